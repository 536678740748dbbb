/* accel_icd_negotiate.c — see accel_icd_negotiate.h. */
#include "accel_icd_negotiate.h"

accel_icd_result accel_icd_negotiate_answer(accel_icd_negotiation *n, const accel_icd_table *table,
                                            const accel_icd_loader_services **services)
{
    if (!n || n->struct_size < sizeof(*n))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (n->loader_version < ACCEL_MAKE_VERSION(1, 0) || n->loader_min_version > ACCEL_ICD_INTERFACE_VERSION)
        return ACCEL_ERROR_INCOMPATIBLE_DRIVER;
    *services = n->services;
    n->driver_version =
        ACCEL_ICD_INTERFACE_VERSION <= n->loader_version ? ACCEL_ICD_INTERFACE_VERSION : n->loader_version;
    n->table = table;
    return ACCEL_SUCCESS;
}
