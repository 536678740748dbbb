/* test_cdi_unit.c — accelinfo --cdi's parts that need no device: the lowest
 * cdiVersion for the features a spec uses, and a GPU's DRI render node found
 * by its PCI bus address in a fake sysfs tree (the machines the tests run on
 * have no GPU with a bus address). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "accelinfo_cdi.h"

static void min_version(void **state)
{
    (void)state;
    accelinfo_cdi_features f = {0};
    assert_string_equal(accelinfo_cdi_min_version(&f), "0.3.0");
    f.mount_type = true;
    assert_string_equal(accelinfo_cdi_min_version(&f), "0.4.0");
    f.name_not_letter = true;
    assert_string_equal(accelinfo_cdi_min_version(&f), "0.5.0");
    f = (accelinfo_cdi_features){.node_host_path = true};
    assert_string_equal(accelinfo_cdi_min_version(&f), "0.5.0");
    f.annotations = true;
    assert_string_equal(accelinfo_cdi_min_version(&f), "0.6.0");
    f = (accelinfo_cdi_features){.class_with_dot = true};
    assert_string_equal(accelinfo_cdi_min_version(&f), "0.6.0");
}

static char root[256];

static void mk(const char *rel)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void link_to(const char *target, const char *rel)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    assert_int_equal(symlink(target, p), 0);
}

static void rm(const char *rel, bool dir)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    if (dir)
        rmdir(p);
    else
        unlink(p);
}

static void render_node(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/cdi-sysfs-XXXXXX");
    assert_non_null(mkdtemp(root));
    mk("class");
    mk("class/drm");
    /* card0 shares the GPU's link but is not a render node; renderD128 is
     * another GPU; renderD129 the one asked for; renderDx is no render node. */
    const char *dirs[] = {"class/drm/card0", "class/drm/renderD128", "class/drm/renderD129", "class/drm/renderDx"};
    for (size_t i = 0; i < 4; i++)
        mk(dirs[i]);
    link_to("../../../devices/pci0000:00/0000:00:01.0/0000:03:00.0", "class/drm/card0/device");
    link_to("../../../devices/pci0000:00/0000:00:02.0/0000:04:00.0", "class/drm/renderD128/device");
    link_to("../../../devices/pci0000:00/0000:00:01.0/0000:03:00.0", "class/drm/renderD129/device");
    link_to("../../../devices/pci0000:00/0000:00:03.0/0000:05:00.0", "class/drm/renderDx/device");

    char out[64];
    assert_true(accelinfo_cdi_render_node(root, "0000:03:00.0", out, sizeof(out)));
    assert_string_equal(out, "/dev/dri/renderD129");
    assert_true(accelinfo_cdi_render_node(root, "0000:04:00.0", out, sizeof(out)));
    assert_string_equal(out, "/dev/dri/renderD128");
    /* A prefix of an address is not the address. */
    assert_false(accelinfo_cdi_render_node(root, "0000:03:00", out, sizeof(out)));
    assert_false(accelinfo_cdi_render_node(root, "0000:05:00.0", out, sizeof(out)));
    assert_false(accelinfo_cdi_render_node(root, "", out, sizeof(out)));
    assert_false(accelinfo_cdi_render_node(root, "0000:03:00.0", out, 8)); /* does not fit */
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/none", root);
    assert_false(accelinfo_cdi_render_node(missing, "0000:03:00.0", out, sizeof(out)));

    const char *links[] = {"class/drm/card0/device", "class/drm/renderD128/device", "class/drm/renderD129/device",
                           "class/drm/renderDx/device"};
    for (size_t i = 0; i < 4; i++) {
        rm(links[i], false);
        rm(dirs[i], true);
    }
    rm("class/drm", true);
    rm("class", true);
    rmdir(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(min_version),
        cmocka_unit_test(render_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
