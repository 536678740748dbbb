/* accelinfo_cdi.c — accelinfo --cdi: a Container Device Interface spec.
 *
 * One CDI device per accel device that has something a container must be
 * given to reach it: a character or block device node (uacce queues, a
 * GPU's DRI render node found through its PCI bus address), or the socket
 * of the uacce emulator (a bind mount: a socket is not a device node). Each
 * is listed twice, by its index and by its uuid, and "all" holds every one.
 * Every device also mounts its driver's manifest and library read-only at
 * the same path. No device sets ACCEL_DEVICE_SELECTOR: CDI merges the edits
 * of the devices a container asks for and one variable would keep only one
 * device; the drivers inside the container see the devices whose nodes it
 * was given (docs/accelinfo.md, CDI OUTPUT).
 *
 * Uses only the public API (accel/accel.h). */
#include "accelinfo_cdi.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CDI_KIND "accel-loader.dev/device"

const char *accelinfo_cdi_min_version(const accelinfo_cdi_features *f)
{
    if (f->annotations || f->class_with_dot)
        return "0.6.0";
    if (f->name_not_letter || f->node_host_path)
        return "0.5.0";
    if (f->mount_type)
        return "0.4.0";
    return "0.3.0";
}

bool accelinfo_cdi_render_node(const char *sysfs_root, const char *bus_address, char *out, size_t size)
{
    char dir[4096];
    if (!bus_address[0] || snprintf(dir, sizeof(dir), "%s/class/drm", sysfs_root) >= (int)sizeof(dir))
        return false;
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "renderD", 7) != 0 || !e->d_name[7] ||
            strspn(e->d_name + 7, "0123456789") != strlen(e->d_name + 7))
            continue;
        char link[4096 + 300], target[4096];
        if (snprintf(link, sizeof(link), "%s/%s/device", dir, e->d_name) >= (int)sizeof(link))
            continue;
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        const char *base = strrchr(target, '/');
        base = base ? base + 1 : target;
        if (strcmp(base, bus_address) == 0)
            found = snprintf(out, size, "/dev/dri/%s", e->d_name) < (int)size;
    }
    closedir(d);
    return found;
}

/* One containerEdits object being built; paths already added are skipped,
 * as a container engine would refuse or collapse them anyway. */
typedef struct edits {
    json_object *obj, *nodes, *mounts; /* arrays created on first use */
    accelinfo_cdi_features *f;
} edits;

static bool has_path(json_object *array, const char *key, const char *path)
{
    for (size_t i = 0; array && i < json_object_array_length(array); i++) {
        json_object *v;
        if (json_object_object_get_ex(json_object_array_get_idx(array, i), key, &v) &&
            strcmp(json_object_get_string(v), path) == 0)
            return true;
    }
    return false;
}

static void add_node(edits *e, const char *path, char type)
{
    if (has_path(e->nodes, "path", path))
        return;
    if (!e->nodes) {
        e->nodes = json_object_new_array();
        json_object_object_add(e->obj, "deviceNodes", e->nodes);
    }
    char t[2] = {type, '\0'};
    json_object *n = json_object_new_object();
    json_object_object_add(n, "path", json_object_new_string(path));
    /* A node reached through a symbolic link (a by-path name, a node
     * linked into a device root): container engines take the node's
     * numbers from hostPath without following links (podman: "not a
     * device node"), so hostPath is the node itself, path where the
     * loader in the container looks for it. */
    struct stat lst;
    char real[PATH_MAX];
    if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) && realpath(path, real)) {
        json_object_object_add(n, "hostPath", json_object_new_string(real));
        e->f->node_host_path = true;
    }
    json_object_object_add(n, "type", json_object_new_string(t));
    json_object_array_add(e->nodes, n);
}

static void add_mount(edits *e, const char *path, bool read_only)
{
    if (has_path(e->mounts, "containerPath", path))
        return;
    if (!e->mounts) {
        e->mounts = json_object_new_array();
        json_object_object_add(e->obj, "mounts", e->mounts);
    }
    json_object *m = json_object_new_object();
    json_object_object_add(m, "hostPath", json_object_new_string(path));
    json_object_object_add(m, "containerPath", json_object_new_string(path));
    json_object *opts = json_object_new_array();
    if (read_only)
        json_object_array_add(opts, json_object_new_string("ro"));
    json_object_array_add(opts, json_object_new_string("nosuid"));
    json_object_array_add(opts, json_object_new_string("nodev"));
    json_object_array_add(opts, json_object_new_string("bind"));
    json_object_object_add(m, "options", opts);
    json_object_array_add(e->mounts, m);
}

/* The manifest and library of the device's driver, each mounted at its
 * absolute path (a relative one is taken from the current directory, as the
 * loader did); a library found by the dynamic linker's search has no path
 * of its own and is left out. A note names each one left out when prog is
 * not NULL. */
static void add_driver_files(const char *prog, edits *e, const accel_device_info *d)
{
    accel_driver_info di = {.struct_size = sizeof(di)};
    if (accel_driver_get_info(d->driver, &di) != ACCEL_SUCCESS)
        return;
    const char *paths[2] = {di.manifest_path, di.library_path};
    char cwd[4096], abs[8192 + 2];
    for (int i = 0; i < 2; i++) {
        const char *p = paths[i];
        struct stat st;
        const char *why = NULL;
        if (!p || !strchr(p, '/'))
            why = "has no path (found by the dynamic linker's search)";
        else if (p[0] != '/' && (!getcwd(cwd, sizeof(cwd)) ||
                                 snprintf(abs, sizeof(abs), "%s/%s", cwd, p) >= (int)sizeof(abs)))
            why = "has a relative path that cannot be made absolute";
        else if (p[0] != '/')
            p = abs;
        if (!why && (stat(p, &st) != 0 || !S_ISREG(st.st_mode)))
            why = "is not a regular file";
        if (!why)
            add_mount(e, p, true);
        else if (prog)
            fprintf(stderr, "%s: --cdi: driver %s: %s %s %s; not mounted\n", prog, d->driver_name,
                    i ? "library" : "manifest", paths[i] ? paths[i] : "(none)", why);
    }
}

/* What a container needs to reach the device: 'c' or 'b' for a device node,
 * 's' for the emulator's socket (a bind mount: a socket is not a device
 * node), 0 for nothing, with a note on standard error where the device has
 * a node that cannot be given. */
static char device_node(const char *prog, const accel_device_info *d, const char *sysfs_root, char *path,
                        size_t size)
{
    if (d->device_node[0])
        snprintf(path, size, "%s", d->device_node);
    else if (!d->bus_address[0] || !accelinfo_cdi_render_node(sysfs_root, d->bus_address, path, size))
        return 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: --cdi: device %u (%s:%u): %s: %s; left out\n", prog, d->index, d->driver_name,
                d->driver_index, path, strerror(errno));
        return 0;
    }
    if (S_ISCHR(st.st_mode))
        return 'c';
    if (S_ISBLK(st.st_mode))
        return 'b';
    if (S_ISSOCK(st.st_mode))
        return 's';
    fprintf(stderr, "%s: --cdi: device %u (%s:%u): %s is neither a device node nor a socket; left out\n",
            prog, d->index, d->driver_name, d->driver_index, path);
    return 0;
}

static void add_device_node(edits *e, const char *path, char type)
{
    if (type == 's')
        add_mount(e, path, false); /* connect() needs write access to the socket */
    else
        add_node(e, path, type);
}

static void new_device(json_object *devices, const char *name, edits *e, accelinfo_cdi_features *f)
{
    json_object *dev = json_object_new_object();
    json_object_object_add(dev, "name", json_object_new_string(name));
    e->obj = json_object_new_object();
    e->nodes = e->mounts = NULL;
    e->f = f;
    json_object_object_add(dev, "containerEdits", e->obj);
    json_object_array_add(devices, dev);
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
        f->name_not_letter = true;
}

int accelinfo_cdi_print(const char *prog, accel_device *const *devices, uint32_t device_count)
{
    accelinfo_cdi_features f = {0};
    json_object *list = json_object_new_array();
    edits all = {0};
    uint32_t with_node = 0;
    /* "all" first, so that it is built as the devices are visited. */
    new_device(list, "all", &all, &f);
    for (uint32_t i = 0; i < device_count; i++) {
        accel_device_info d = {.struct_size = sizeof(d)};
        if (accel_device_get_info(devices[i], &d) != ACCEL_SUCCESS)
            continue;
        /* cpu devices too: "all" gives the container what the host sees.
         * Each driver's files are named in a note once. */
        bool first_of_driver = true;
        for (uint32_t k = 0; k < i && first_of_driver; k++) {
            accel_device_info o = {.struct_size = sizeof(o)};
            first_of_driver = accel_device_get_info(devices[k], &o) != ACCEL_SUCCESS || o.driver != d.driver;
        }
        add_driver_files(first_of_driver ? prog : NULL, &all, &d);
        char node[4096];
        char type = device_node(prog, &d, "/sys", node, sizeof(node));
        if (!type)
            continue;
        with_node++;
        add_device_node(&all, node, type);
        char index[16], uuid[33];
        snprintf(index, sizeof(index), "%u", d.index);
        accel_uuid_to_string(d.uuid, uuid);
        const char *names[2] = {index, uuid};
        for (int k = 0; k < 2; k++) {
            edits e;
            new_device(list, names[k], &e, &f);
            add_device_node(&e, node, type);
            add_driver_files(NULL, &e, &d);
        }
    }
    if (!with_node) {
        fprintf(stderr,
                "%s: --cdi: no device has a device node (or emulator socket) to give a container; "
                "no CDI spec written\n",
                prog);
        json_object_put(list);
        return 1;
    }
    json_object *root = json_object_new_object();
    json_object_object_add(root, "cdiVersion", json_object_new_string(accelinfo_cdi_min_version(&f)));
    json_object_object_add(root, "kind", json_object_new_string(CDI_KIND));
    json_object_object_add(root, "devices", list);
    puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
    return 0;
}
