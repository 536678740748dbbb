/* programs.c — the programs the suite loads (programs.h). */
#include "programs.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conformance.h"

const char conf_opencl_source[] = "kernel void conf_add(global uint *data, uint n, uint value)\n"
                                  "{\n"
                                  "    size_t i = get_global_id(0);\n"
                                  "    if (i < n)\n"
                                  "        data[i] += value;\n"
                                  "}\n";

#ifdef CONF_HAVE_SPIRV
#include "conf_add_spv.h"
const uint32_t *const conf_spirv = conf_add_spv;
const size_t conf_spirv_size = sizeof(conf_add_spv);
#else
const uint32_t *const conf_spirv = NULL;
const size_t conf_spirv_size = 0;
#endif

#define KERNELS_NAME "accel-conformance-kernels.so"

void conf_kernels_path(char *buf, size_t size)
{
    /* Next to the executable (a build tree), then where it is installed. */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", conf.self);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        snprintf(buf, size, "%s/%s", dir, KERNELS_NAME);
        if (access(buf, R_OK) == 0)
            return;
    }
#ifdef CONF_KERNELS_INSTALLED
    snprintf(buf, size, "%s", CONF_KERNELS_INSTALLED);
    if (access(buf, R_OK) == 0)
        return;
#endif
    if (size)
        buf[0] = '\0';
}
