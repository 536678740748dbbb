/* embed_cl.c — build-time helper: turn an OpenCL C source file into a C
 * header defining `static const char <name>[]` with its text, one string
 * literal per line so compiler messages about the kernel keep their line
 * numbers. Usage: embed_cl INPUT OUTPUT NAME */
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s INPUT OUTPUT NAME\n", argv[0]);
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    if (!in) {
        perror(argv[1]);
        return 1;
    }
    FILE *out = fopen(argv[2], "w");
    if (!out) {
        perror(argv[2]);
        fclose(in);
        return 1;
    }
    fprintf(out, "/* generated from %s; do not edit */\nstatic const char %s[] =\n    \"", argv[1], argv[3]);
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
    fputs("\";\n", out);
    int err = ferror(in) || ferror(out);
    fclose(in);
    if (fclose(out) != 0)
        err = 1;
    return err ? 1 : 0;
}
