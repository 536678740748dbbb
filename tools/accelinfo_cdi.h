/* accelinfo_cdi.h — accelinfo --cdi: a Container Device Interface spec for
 * the devices that have device nodes (docs/accelinfo.md, CDI OUTPUT).
 *
 * Uses only the public API (accel/accel.h). */
#ifndef ACCELINFO_CDI_H
#define ACCELINFO_CDI_H

#include <accel/accel.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which CDI features a spec uses; accelinfo_cdi_min_version() gives the
 * lowest cdiVersion that has them all. */
typedef struct accelinfo_cdi_features {
    bool mount_type;      /* a mount with "type" (0.4.0) */
    bool name_not_letter; /* a device name that starts with a non-letter (0.5.0) */
    bool node_host_path;  /* a deviceNode with "hostPath" (0.5.0) */
    bool annotations;     /* annotations on the spec or a device (0.6.0) */
    bool class_with_dot;  /* a "." in the class part of kind (0.6.0) */
} accelinfo_cdi_features;

/* "0.3.0", "0.4.0", "0.5.0" or "0.6.0": a static string. */
const char *accelinfo_cdi_min_version(const accelinfo_cdi_features *f);

/* The DRI render node of the PCI device at bus_address ("0000:03:00.0"):
 * the /sys/class/drm/renderD* entry whose device link ends in that address,
 * under sysfs_root (normally "/sys"). Writes "/dev/dri/renderD<N>" to out;
 * false if there is none or it does not fit. */
bool accelinfo_cdi_render_node(const char *sysfs_root, const char *bus_address, char *out, size_t size);

/* Print the spec for these devices (and their drivers' manifests and
 * libraries) on standard output; the exit status: 0, or 1 with the reason
 * on standard error when no device has a node to give a container. */
int accelinfo_cdi_print(const char *prog, accel_device *const *devices, uint32_t device_count);

#endif
