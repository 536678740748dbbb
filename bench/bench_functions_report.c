/* bench_functions_report.c — bench_functions' output: a table per data set,
 * then the goals, as text for people or as one JSON document. Both are
 * computed from the same cells, so they cannot disagree. */
#include "bench_functions.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- figures derived from the cells ---- */

static double rate_mbps(const bf_set *set, const bf_cell *c)
{
    return c->state == BF_OK && c->seconds > 0 ? (double)set->size / c->seconds / 1e6 : 0;
}

/* Speed over the row's anchor on the same set; 0 when either is missing. */
static double vs_anchor(const bf_set *set, const bf_cell *c, bf_anchor a)
{
    double mine = rate_mbps(set, c), theirs = rate_mbps(set, &set->anchor[a]);
    return mine > 0 && theirs > 0 ? mine / theirs : 0;
}

static bool has_output(const bf_cell *c)
{
    return c->state == BF_OK && c->out_size > 0;
}

static const char *state_word(bf_state s)
{
    switch (s) {
    case BF_OK: return "ok";
    case BF_REFUSED: return "refused";
    case BF_FAILED: return "failed";
    case BF_WRONG: return "wrong";
    case BF_SKIPPED: return "skipped";
    default: return "none";
    }
}

/* ---- goals ---- */

typedef struct goal {
    char text[96];
    double target;
    bool at_most; /* figure <= target (sizes); else figure >= target (speeds) */
    bool measured;
    double figure;
    char detail[512]; /* the numbers behind the figure, or why it is missing */
} goal;

#define MAX_GOALS 10

static int dev_of(const bf_report *r, const char *driver)
{
    for (size_t i = 0; i < r->dev_count; i++)
        if (strcmp(r->devs[i].driver, driver) == 0)
            return (int)i;
    return -1;
}

static int concat_set(const bf_report *r)
{
    for (size_t s = 0; s < r->set_count; s++)
        if (strcmp(r->sets[s].name, "concatenation") == 0)
            return (int)s;
    return -1;
}

/* The set the speed goals are read on: the 64 MiB one, or the concatenation
 * in quick runs. */
static int speed_set(const bf_report *r)
{
    for (size_t s = 0; s < r->set_count; s++)
        if (r->sets[s].large)
            return (int)s;
    return concat_set(r);
}

/* A device cell that can be used, or why not in why; *skipped tells whether
 * it was only skipped for time. */
static const bf_cell *usable_cell(const bf_report *r, int set, int dev, bf_row row, const char *driver,
                                  char *why, size_t why_size, bool *skipped)
{
    *skipped = false;
    if (dev < 0) {
        snprintf(why, why_size, "no %s device in this run", driver);
        return NULL;
    }
    bf_function f = bf_row_function(row);
    if (!r->fn_selected[f]) {
        snprintf(why, why_size, "%s not measured (--function)", bf_function_name(f));
        return NULL;
    }
    const bf_cell *c = bf_cell_at(r, (size_t)set, (size_t)dev, row);
    if (c->state == BF_OK)
        return c;
    *skipped = c->state == BF_SKIPPED;
    if (!r->devs[dev].offered[f])
        snprintf(why, why_size, "%s %s: %s", r->devs[dev].label, bf_function_name(f),
                 r->devs[dev].fn_note[f]);
    else
        snprintf(why, why_size, "%s %s on %s: %s", r->devs[dev].label, bf_function_name(f), r->sets[set].name,
                 c->state == BF_NONE ? "not measured" : c->note);
    return NULL;
}

static const bf_cell *usable_anchor(const bf_report *r, int set, bf_anchor a, char *why, size_t why_size,
                                    bool *skipped)
{
    const bf_cell *c = &r->sets[set].anchor[a];
    *skipped = c->state == BF_SKIPPED;
    if (c->state == BF_OK)
        return c;
    snprintf(
        why, why_size, "%s on %s: %s", bf_anchor_name(a), r->sets[set].name,
        c->state == BF_NONE
            ? (a == BF_A_CRC3 && !r->crc3_available ? "this CPU lacks SSE4.2 or PCLMULQDQ" : "not measured")
            : c->note);
    return NULL;
}

/* What a goal compares: a device's row against an anchor, or against the
 * cpu driver's same row (anchor < 0); speeds, or compressed sizes. */
typedef struct comparison {
    const char *driver;
    bf_row row;
    int anchor;
    bool sizes;
} comparison;

/* On the speed set; when a cell there was skipped for time, both sides on
 * the concatenation instead, and the detail says so. */
static void goal_compare(const bf_report *r, goal *g, comparison cmp)
{
    int sets[2] = {speed_set(r), concat_set(r)};
    char fallback[300] = "";
    for (int k = 0; k < 2; k++) {
        int s = sets[k];
        if (s < 0 || (k == 1 && s == sets[0]))
            return;
        bool skipped = false;
        const bf_cell *mine = usable_cell(r, s, dev_of(r, cmp.driver), cmp.row, cmp.driver, g->detail,
                                          sizeof(g->detail), &skipped);
        const bf_cell *other = NULL;
        if (mine && cmp.anchor >= 0)
            other = usable_anchor(r, s, (bf_anchor)cmp.anchor, g->detail, sizeof(g->detail), &skipped);
        else if (mine)
            other =
                usable_cell(r, s, dev_of(r, "cpu"), cmp.row, "cpu", g->detail, sizeof(g->detail), &skipped);
        if (mine && other) {
            const bf_set *set = &r->sets[s];
            g->measured = true;
            if (cmp.sizes) {
                g->figure = (double)mine->out_size / (double)other->out_size;
                snprintf(g->detail, sizeof(g->detail), "%llu vs %llu bytes on %s%s",
                         (unsigned long long)mine->out_size, (unsigned long long)other->out_size, set->name,
                         fallback);
            } else {
                g->figure = rate_mbps(set, mine) / rate_mbps(set, other);
                snprintf(g->detail, sizeof(g->detail), "%.1f vs %.1f MB/s on %s%s", rate_mbps(set, mine),
                         rate_mbps(set, other), set->name, fallback);
            }
            return;
        }
        if (!skipped)
            return;
        snprintf(fallback, sizeof(fallback), "; %.250s", g->detail);
    }
}

/* The worst deflate-6 size over zlib-6's among the text files. */
static void goal_text_ratio(const bf_report *r, goal *g, const char *driver)
{
    int d = dev_of(r, driver), files = 0;
    double worst = 0;
    const char *worst_name = "";
    for (size_t s = 0; s < r->set_count; s++) {
        if (!r->sets[s].text)
            continue;
        bool skipped;
        const bf_cell *c =
            usable_cell(r, (int)s, d, BF_R_DEF6, driver, g->detail, sizeof(g->detail), &skipped);
        if (!c)
            return;
        double ratio = (double)c->out_size / (double)r->sets[s].z6_size;
        if (ratio > worst) {
            worst = ratio;
            worst_name = r->sets[s].name;
        }
        files++;
    }
    if (files == 0) {
        snprintf(g->detail, sizeof(g->detail), "the text files were not measured%s",
                 r->quick ? " (--quick)" : "");
        return;
    }
    g->measured = true;
    g->figure = worst;
    snprintf(g->detail, sizeof(g->detail), "worst of %d text files: %s", files, worst_name);
}

static int compute_goals(const bf_report *r, goal *g)
{
    int n = 0;
    memset(g, 0, MAX_GOALS * sizeof(*g));
#define GOAL(t, target_, at_most_)                                                                           \
    (snprintf(g[n].text, sizeof(g[n].text), "%s", t), g[n].target = (target_), g[n].at_most = (at_most_),    \
     &g[n++])
    goal_compare(r, GOAL("cpu sha256 >= 0.90x OpenSSL", 0.90, false),
                 (comparison){"cpu", BF_R_SHA, BF_A_SHA, false});
    goal_compare(r, GOAL("cpu crc32c >= 0.85x 3-way single-core crc32c", 0.85, false),
                 (comparison){"cpu", BF_R_CRC, BF_A_CRC3, false});
    goal_compare(r, GOAL("cpu zlib.inflate >= 0.90x libdeflate", 0.90, false),
                 (comparison){"cpu", BF_R_INFL, BF_A_LD_INFL, false});
    goal_compare(r, GOAL("cpu zlib.deflate 6 speed >= 0.90x libdeflate-6", 0.90, false),
                 (comparison){"cpu", BF_R_DEF6, BF_A_LD6, false});
    goal_compare(r, GOAL("cpu zlib.deflate 6 size <= 1.02x libdeflate-6's", 1.02, true),
                 (comparison){"cpu", BF_R_DEF6, BF_A_LD6, true});
    goal_text_ratio(r, GOAL("opencl zlib.deflate 6 size <= 1.25x zlib-6's on text", 1.25, true), "opencl");
    goal_text_ratio(r, GOAL("vulkan zlib.deflate 6 size <= 1.25x zlib-6's on text", 1.25, true), "vulkan");
    goal_compare(r, GOAL("opencl crc32c >= 0.10x the cpu driver's", 0.10, false),
                 (comparison){"opencl", BF_R_CRC, -1, false});
    goal_compare(r, GOAL("vulkan crc32c >= 0.05x the cpu driver's", 0.05, false),
                 (comparison){"vulkan", BF_R_CRC, -1, false});
    goal_compare(r, GOAL("vulkan zlib.inflate >= 0.05x the cpu driver's", 0.05, false),
                 (comparison){"vulkan", BF_R_INFL, -1, false});
#undef GOAL
    return n;
}

static bool goal_met(const goal *g)
{
    return g->at_most ? g->figure <= g->target : g->figure >= g->target;
}

/* ---- text ---- */

static void print_row_text(FILE *out, const bf_set *set, const char *who, const char *fn, int level,
                           const bf_cell *c, bf_anchor anchor, bool show_anchor)
{
    char lvl[8] = "";
    if (level)
        snprintf(lvl, sizeof(lvl), "%d", level);
    fprintf(out, "%-13s %-20s %3s ", who, fn, lvl);
    if (c->state != BF_OK) {
        fprintf(out, " %s\n", c->note);
        return;
    }
    fprintf(out, "%10.1f %4d ", rate_mbps(set, c), c->reps);
    double va = show_anchor ? vs_anchor(set, c, anchor) : 0;
    char ratio[40] = "";
    if (va > 0)
        snprintf(ratio, sizeof(ratio), "%.2fx %s", va, bf_anchor_name(anchor));
    fprintf(out, " %-26s", ratio);
    if (has_output(c)) {
        const bf_cell *ld6 = &set->anchor[BF_A_LD6];
        fprintf(out, " %6.3f  %8.3f", (double)c->out_size / (double)set->size,
                (double)c->out_size / (double)set->z6_size);
        if (has_output(ld6))
            fprintf(out, "  %8.3f", (double)c->out_size / (double)ld6->out_size);
    }
    fprintf(out, "\n");
}

void bf_report_text(const bf_report *r, FILE *out)
{
    fprintf(out, "bench_functions: the standard functions on every device, next to the field's libraries\n");
    fprintf(out, "machine:   %s\n", r->machine);
    fprintf(out, "libraries: %s\n", r->libraries);
    fprintf(out, "corpus:    %s%s\n", r->corpus, r->quick ? "  (--quick: the concatenation only)" : "");
    fprintf(
        out,
        "MB/s: 10^6 bytes of data per second, median of the timed calls (devices: accel_queue_submit to "
        "fence\ncompletion) after one warm-up call (on the concatenation for the 64 MiB set); at least %d "
        "timed call(s),\nmore until %.2f s are spent (at most 31). A cell is skipped when its timed calls "
        "would take more\nthan %g s (%g s for the cells the goals use), as predicted from the warm-up.\n"
        "zlib.inflate: the decompressed bytes per second (its input is zlib's level-6 stream of the data).\n",
        r->min_reps, r->budget_s, r->cell_limit_s, r->goal_limit_s);
    fprintf(out,
            "vs anchor: MB/s over the anchor's on the same bytes in this run. out/in: compressed over data "
            "size;\nvs zlib-6, vs ld-6: compressed size over zlib's and libdeflate's at level 6.\n");
    for (int i = 0; i < 4; i++)
        if (r->notes[i][0])
            fprintf(out, "note: %s\n", r->notes[i]);

    fprintf(out, "\ndevices (attach: how the data memory is reached):\n");
    for (size_t i = 0; i < r->dev_count; i++) {
        const bf_dev *d = &r->devs[i];
        fprintf(out, "  %-12s %-52.52s ", d->label, d->name);
        bool any = false;
        for (int f = 0; f < BF_F_COUNT; f++)
            any |= d->offered[f];
        if (!any) {
            fprintf(out, "none of the selected functions\n");
            continue;
        }
        fprintf(out, "%-10s", d->attach);
        for (int f = 0; f < BF_F_COUNT; f++)
            if (d->offered[f])
                fprintf(out, " %s%s%s%s", bf_function_name((bf_function)f), d->fn_note[f][0] ? " (" : "",
                        d->fn_note[f], d->fn_note[f][0] ? ")" : "");
        fprintf(out, "\n");
    }

    for (size_t s = 0; s < r->set_count; s++) {
        const bf_set *set = &r->sets[s];
        fprintf(out, "\n== %s: %llu bytes (zlib-6: %llu) ==\n", set->name, (unsigned long long)set->size,
                (unsigned long long)set->z6_size);
        fprintf(out, "%-13s %-20s %3s  %10s %4s  %-26s %6s  %8s  %8s\n", "device", "function", "lvl", "MB/s",
                "reps", "vs anchor", "out/in", "vs zlib-6", "vs ld-6");
        for (int a = 0; a < BF_A_COUNT; a++)
            if (set->anchor[a].state != BF_NONE)
                print_row_text(out, set, "anchor", bf_anchor_name((bf_anchor)a),
                               bf_anchor_level((bf_anchor)a), &set->anchor[a], (bf_anchor)a, false);
        for (size_t i = 0; i < r->dev_count; i++)
            for (int row = 0; row < BF_R_COUNT; row++) {
                const bf_cell *c = bf_cell_at(r, s, i, (bf_row)row);
                if (c->state != BF_NONE)
                    print_row_text(out, set, r->devs[i].label, bf_function_name(bf_row_function((bf_row)row)),
                                   bf_row_level((bf_row)row), c, bf_row_anchor((bf_row)row), true);
            }
    }

    goal g[MAX_GOALS];
    int n = compute_goals(r, g);
    int s = speed_set(r);
    fprintf(out, "\n== goals (speeds on %s%s) ==\n", s >= 0 ? r->sets[s].name : "-",
            r->quick ? "; --quick: not the 64 MiB set, indicative only" : "");
    for (int i = 0; i < n; i++) {
        fprintf(out, "%2d. %-54s ", i + 1, g[i].text);
        if (!g[i].measured) {
            fprintf(out, "not measured: %s\n", g[i].detail);
            continue;
        }
        fprintf(out, "%6.3fx  ", g[i].figure);
        if (goal_met(&g[i]))
            fprintf(out, "met");
        else
            fprintf(out, "missed by %.3fx", fabs(g[i].figure - g[i].target));
        fprintf(out, "  (%s)\n", g[i].detail);
    }
    fprintf(out, "\ntotal %.0f s\n", r->total_s);
}

/* ---- JSON ---- */

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", out);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

/* A number, or null when there is none (JSON has no NaN). */
static void json_num(FILE *out, double v, bool present)
{
    if (present && isfinite(v))
        fprintf(out, "%.6g", v);
    else
        fputs("null", out);
}

static void json_cell(FILE *out, const bf_set *set, const char *device, const char *anchor, const char *fn,
                      int level, const bf_cell *c, int vs)
{
    fprintf(out, "{\"device\": ");
    if (device)
        json_str(out, device);
    else
        fputs("null", out);
    fprintf(out, ", \"anchor\": ");
    if (anchor)
        json_str(out, anchor);
    else
        fputs("null", out);
    fprintf(out, ", \"function\": ");
    json_str(out, fn);
    fprintf(out, ", \"level\": ");
    json_num(out, level, level != 0);
    fprintf(out, ", \"state\": \"%s\", \"median_s\": ", state_word(c->state));
    bool timed = c->state == BF_OK || c->state == BF_WRONG;
    json_num(out, c->seconds, timed);
    fprintf(out, ", \"mbps\": ");
    json_num(out, timed && c->seconds > 0 ? (double)set->size / c->seconds / 1e6 : 0,
             timed && c->seconds > 0);
    fprintf(out, ", \"reps\": %d", timed ? c->reps : 0);
    double va = vs >= 0 ? vs_anchor(set, c, (bf_anchor)vs) : 0;
    fprintf(out, ", \"vs_anchor\": ");
    json_num(out, va, va > 0);
    fprintf(out, ", \"vs_anchor_name\": ");
    if (va > 0)
        json_str(out, bf_anchor_name((bf_anchor)vs));
    else
        fputs("null", out);
    bool out_ok = has_output(c);
    const bf_cell *ld6 = &set->anchor[BF_A_LD6];
    fprintf(out, ", \"out_bytes\": ");
    json_num(out, (double)c->out_size, out_ok);
    fprintf(out, ", \"out_per_in\": ");
    json_num(out, (double)c->out_size / (double)set->size, out_ok);
    fprintf(out, ", \"vs_zlib6_size\": ");
    json_num(out, (double)c->out_size / (double)set->z6_size, out_ok);
    fprintf(out, ", \"vs_libdeflate6_size\": ");
    json_num(out, out_ok && has_output(ld6) ? (double)c->out_size / (double)ld6->out_size : 0,
             out_ok && has_output(ld6));
    fprintf(out, ", \"note\": ");
    json_str(out, c->note);
    fprintf(out, "}");
}

void bf_report_json(const bf_report *r, FILE *out)
{
    fprintf(out, "{\n  \"benchmark\": \"bench_functions\",\n  \"machine\": ");
    json_str(out, r->machine);
    fprintf(out, ",\n  \"libraries\": ");
    json_str(out, r->libraries);
    fprintf(out, ",\n  \"corpus\": ");
    json_str(out, r->corpus);
    fprintf(out,
            ",\n  \"quick\": %s,\n  \"min_reps\": %d,\n  \"budget_s\": %g,\n  \"cell_limit_s\": %g,\n"
            "  \"goal_cell_limit_s\": %g,\n  \"total_s\": %.1f,\n",
            r->quick ? "true" : "false", r->min_reps, r->budget_s, r->cell_limit_s, r->goal_limit_s,
            r->total_s);
    fprintf(out,
            "  \"units\": \"mbps: 1e6 bytes of data per second (zlib.inflate: decompressed bytes), median "
            "of reps timed calls after one warm-up\",\n  \"notes\": [");
    bool first = true;
    for (int i = 0; i < 4; i++)
        if (r->notes[i][0]) {
            fprintf(out, "%s", first ? "" : ", ");
            json_str(out, r->notes[i]);
            first = false;
        }
    fprintf(out, "],\n  \"devices\": [\n");
    for (size_t i = 0; i < r->dev_count; i++) {
        const bf_dev *d = &r->devs[i];
        fprintf(out, "    {\"device\": ");
        json_str(out, d->label);
        fprintf(out, ", \"name\": ");
        json_str(out, d->name);
        fprintf(out, ", \"driver\": ");
        json_str(out, d->driver);
        fprintf(out, ", \"attach\": ");
        json_str(out, d->attach[0] ? d->attach : "none");
        fprintf(out, ", \"functions\": {");
        first = true;
        for (int f = 0; f < BF_F_COUNT; f++) {
            if (!r->fn_selected[f])
                continue;
            fprintf(out, "%s", first ? "" : ", ");
            json_str(out, bf_function_name((bf_function)f));
            fprintf(out, ": ");
            json_str(out, d->offered[f] ? (d->fn_note[f][0] ? d->fn_note[f] : "offered") : d->fn_note[f]);
            first = false;
        }
        fprintf(out, "}}%s\n", i + 1 < r->dev_count ? "," : "");
    }
    fprintf(out, "  ],\n  \"sets\": [\n");
    for (size_t s = 0; s < r->set_count; s++) {
        const bf_set *set = &r->sets[s];
        fprintf(out, "    {\"name\": ");
        json_str(out, set->name);
        fprintf(out,
                ", \"bytes\": %llu, \"zlib6_bytes\": %llu, \"text\": %s, \"large\": %s, \"wall_s\": %.2f,\n",
                (unsigned long long)set->size, (unsigned long long)set->z6_size, set->text ? "true" : "false",
                set->large ? "true" : "false", set->wall_s);
        fprintf(out, "     \"cells\": [");
        first = true;
        for (int a = 0; a < BF_A_COUNT; a++) {
            if (set->anchor[a].state == BF_NONE)
                continue;
            fprintf(out, "%s\n      ", first ? "" : ",");
            json_cell(out, set, NULL, bf_anchor_name((bf_anchor)a), bf_anchor_function((bf_anchor)a),
                      bf_anchor_level((bf_anchor)a), &set->anchor[a], -1);
            first = false;
        }
        for (size_t i = 0; i < r->dev_count; i++)
            for (int row = 0; row < BF_R_COUNT; row++) {
                const bf_cell *c = bf_cell_at(r, s, i, (bf_row)row);
                if (c->state == BF_NONE)
                    continue;
                fprintf(out, "%s\n      ", first ? "" : ",");
                json_cell(out, set, r->devs[i].label, NULL, bf_function_name(bf_row_function((bf_row)row)),
                          bf_row_level((bf_row)row), c, (int)bf_row_anchor((bf_row)row));
                first = false;
            }
        fprintf(out, "]}%s\n", s + 1 < r->set_count ? "," : "");
    }
    goal g[MAX_GOALS];
    int n = compute_goals(r, g);
    fprintf(out, "  ],\n  \"goals\": [\n");
    for (int i = 0; i < n; i++) {
        fprintf(out, "    {\"goal\": ");
        json_str(out, g[i].text);
        fprintf(out, ", \"comparison\": \"%s\", \"target\": %g, \"figure\": ", g[i].at_most ? "<=" : ">=",
                g[i].target);
        json_num(out, g[i].figure, g[i].measured);
        fprintf(out, ", \"status\": \"%s\", \"missed_by\": ",
                !g[i].measured    ? "not measured"
                : goal_met(&g[i]) ? "met"
                                  : "missed");
        json_num(out, fabs(g[i].figure - g[i].target), g[i].measured && !goal_met(&g[i]));
        fprintf(out, ", \"detail\": ");
        json_str(out, g[i].detail);
        fprintf(out, "}%s\n", i + 1 < n ? "," : "");
    }
    fprintf(out, "  ]\n}\n");
}
