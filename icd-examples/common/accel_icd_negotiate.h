/*
 * accel_icd_negotiate.h — the handshake of accel_icd.h ("Handshake",
 * steps 1 to 3) for a driver that speaks interface version 1.x up to
 * ACCEL_ICD_INTERFACE_VERSION, as every example driver does: the body of
 * its accel_icd_negotiate, which stays in the driver (the one export),
 * and the log through the loader's services it hands over.
 *
 * Called only from accel_icd_negotiate: once per load, never concurrently
 * with other calls into the driver.
 */
#ifndef ACCEL_ICD_NEGOTIATE_H
#define ACCEL_ICD_NEGOTIATE_H

#include <accel/accel_icd.h>

/*
 * Answer *n with the highest version both sides speak and `table`.
 * *services (the driver's global the rest of it logs through) gets the
 * loader's services on success only. ACCEL_ERROR_INVALID_ARGUMENT for a
 * NULL or short *n, ACCEL_ERROR_INCOMPATIBLE_DRIVER when the loader's range
 * of versions misses 1.0 to ACCEL_ICD_INTERFACE_VERSION; *n and *services
 * are then untouched.
 */
accel_icd_result accel_icd_negotiate_answer(accel_icd_negotiation *n, const accel_icd_table *table,
                                            const accel_icd_loader_services **services);

/*
 * Log one message through the services the negotiation stored (a driver
 * wraps it as its own <NAME>_LOG): nothing before the negotiation or when
 * the loader offers no log. The loader prefixes the driver's name.
 */
#define ACCEL_ICD_LOG(services, level, ...)                                                                  \
    do {                                                                                                     \
        if ((services) && (services)->log)                                                                   \
            (services)->log((services)->loader_context, (level), __VA_ARGS__);                               \
    } while (0)

#endif
