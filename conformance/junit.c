/* junit.c — the results as JUnit XML (--junit FILE).
 *
 * One <testsuite> per (device, group), named "LABEL GROUP" ("cpu:0 queues"),
 * with the device's name, driver, driver version and uuid as properties;
 * one <testcase classname="LABEL.GROUP" name="TEST"> per test. A failure is
 * a <failure>, a skip a <skipped>, and a known failure a <skipped> whose
 * message starts with "known failure", so that CI systems show it without
 * failing the build. Text from drivers is made valid XML 1.0: markup
 * characters escaped, control characters and invalid UTF-8 replaced. */
#include <stdio.h>
#include <string.h>

#include "conformance.h"

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if ((p[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    /* Overlong forms, surrogates, beyond Unicode, and the two non-characters
     * XML forbids. */
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
        return 0;
    return len;
}

static void put_escaped(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);
    while (n) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '\t':
        case '\n': fprintf(f, "&#%d;", *p); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                fputc('?', f);
            } else if (*p >= 0x80) {
                size_t len = utf8_len(p, n);
                if (!len) {
                    fputc('?', f);
                } else {
                    fwrite(p, 1, len, f);
                    p += len;
                    n -= len;
                    continue;
                }
            } else {
                fputc(*p, f);
            }
        }
        p++;
        n--;
    }
}

static void count(const conf_result *r, size_t n, unsigned *tests, unsigned *failures, unsigned *skipped,
                  double *seconds)
{
    for (size_t i = 0; i < n; i++) {
        (*tests)++;
        if (r[i].status == CONF_FAILED || r[i].status == CONF_RUNNING)
            (*failures)++;
        else if (r[i].status == CONF_SKIPPED || r[i].status == CONF_KNOWN_FAILURE ||
                 r[i].status == CONF_NOT_RUN)
            (*skipped)++;
        *seconds += r[i].seconds;
    }
}

static void put_case(FILE *f, const conf_device *d, const conf_result *r)
{
    fprintf(f, "    <testcase classname=\"");
    put_escaped(f, d->label);
    fprintf(f, ".%s\" name=\"%s\" time=\"%.3f\"", r->group, r->test, r->seconds);
    switch (r->status) {
    case CONF_PASSED: fprintf(f, "/>\n"); return;
    case CONF_FAILED:
    case CONF_RUNNING:
        fprintf(f, ">\n      <failure type=\"failure\" message=\"");
        put_escaped(f, r->message);
        fprintf(f, "\"/>\n    </testcase>\n");
        return;
    case CONF_KNOWN_FAILURE: {
        char text[2048];
        snprintf(text, sizeof(text), "known failure (%s:%u%s%s): %s", conf.known.source, r->known->line,
                 *r->known->reason ? ": " : "", r->known->reason, r->message);
        fprintf(f, ">\n      <skipped message=\"");
        put_escaped(f, text);
        fprintf(f, "\"/>\n    </testcase>\n");
        return;
    }
    case CONF_SKIPPED:
        fprintf(f, ">\n      <skipped message=\"");
        put_escaped(f, r->message);
        fprintf(f, "\"/>\n    </testcase>\n");
        return;
    default: fprintf(f, ">\n      <skipped message=\"not run\"/>\n    </testcase>\n"); return;
    }
}

static void put_property(FILE *f, const char *name, const char *value)
{
    fprintf(f, "      <property name=\"%s\" value=\"", name);
    put_escaped(f, value);
    fprintf(f, "\"/>\n");
}

int conf_junit_write(const char *path, double seconds)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return -1;
    unsigned tests = 0, failures = 0, skipped = 0;
    double sum = 0;
    for (uint32_t i = 0; i < conf.device_count; i++)
        count(conf.devices[i].results, conf.devices[i].result_count, &tests, &failures, &skipped, &sum);
    unsigned errors = conf.crash[0] ? 1 : 0;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(
        f,
        "<testsuites name=\"accel-conformance\" tests=\"%u\" failures=\"%u\" errors=\"%u\" skipped=\"%u\" "
        "time=\"%.3f\">\n",
        tests + errors, failures, errors, skipped, seconds);
    for (uint32_t i = 0; i < conf.device_count; i++) {
        const conf_device *d = &conf.devices[i];
        /* Results are stored group after group. */
        for (size_t start = 0; start < d->result_count;) {
            size_t end = start;
            while (end < d->result_count && strcmp(d->results[end].group, d->results[start].group) == 0)
                end++;
            unsigned t = 0, fl = 0, sk = 0;
            double s = 0;
            count(d->results + start, end - start, &t, &fl, &sk, &s);
            fprintf(f, "  <testsuite name=\"");
            put_escaped(f, d->label);
            fprintf(f, " %s\" tests=\"%u\" failures=\"%u\" errors=\"0\" skipped=\"%u\" time=\"%.3f\">\n",
                    d->results[start].group, t, fl, sk, s);
            fprintf(f, "    <properties>\n");
            put_property(f, "device", d->info.name);
            put_property(f, "driver", d->driver_name);
            put_property(f, "driver_version", d->driver_version);
            put_property(f, "uuid", d->uuid);
            fprintf(f, "    </properties>\n");
            for (size_t k = start; k < end; k++)
                put_case(f, d, &d->results[k]);
            fprintf(f, "  </testsuite>\n");
            start = end;
        }
    }
    if (errors) {
        /* The process crashed outside any test: one error of the run. */
        fprintf(
            f,
            "  <testsuite name=\"accel-conformance\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" "
            "time=\"0.000\">\n");
        fprintf(f, "    <testcase classname=\"accel-conformance.run\" name=\"process\" time=\"0.000\">\n");
        fprintf(f, "      <error message=\"");
        put_escaped(f, conf.crash);
        fprintf(f, "\"/>\n    </testcase>\n  </testsuite>\n");
    }
    fprintf(f, "</testsuites>\n");
    return fclose(f) == 0 ? 0 : -1;
}
