/* embed_cl.c — build-time helper: turn OpenCL C source files into a C
 * header defining `static const char <name>[]` with their text, one string
 * literal per line so compiler messages about the kernel keep their line
 * numbers. Several inputs are joined in order, each behind a `#line 1
 * "file"` directive naming it, so that messages name the file too.
 * Usage: embed_cl INPUT... OUTPUT NAME */
#include <stdio.h>
#include <string.h>

static int embed(FILE *out, const char *path, int with_line)
{
    FILE *in = fopen(path, "r");
    if (!in) {
        perror(path);
        return 1;
    }
    if (with_line) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        fputs("#line 1 \\\"", out);
        for (const char *c = base; *c; c++)
            if (*c != '"' && *c != '\\' && (unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f)
                fputc(*c, out);
        fputs("\\\"\\n\"\n    \"", out);
    }
    int c;
    while ((c = fgetc(in)) != EOF) {
        if (c == '\n')
            fputs("\\n\"\n    \"", out);
        else if (c == '\\' || c == '"')
            fprintf(out, "\\%c", c);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(out, "\\%03o", (unsigned)c);
        else
            fputc(c, out);
    }
    int err = ferror(in);
    fclose(in);
    return err ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s INPUT... OUTPUT NAME\n", argv[0]);
        return 2;
    }
    const char *output = argv[argc - 2], *name = argv[argc - 1];
    int ninputs = argc - 3;
    FILE *out = fopen(output, "w");
    if (!out) {
        perror(output);
        return 1;
    }
    fprintf(out, "/* generated from");
    for (int i = 1; i <= ninputs; i++)
        fprintf(out, " %s", argv[i]);
    fprintf(out, "; do not edit */\nstatic const char %s[] =\n    \"", name);
    int err = 0;
    for (int i = 1; i <= ninputs && !err; i++)
        err = embed(out, argv[i], ninputs > 1);
    fputs("\";\n", out);
    if (ferror(out))
        err = 1;
    if (fclose(out) != 0)
        err = 1;
    return err ? 1 : 0;
}
