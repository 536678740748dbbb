/* topology_support.h — what the topology tests share: nodes and links
 * looked up by index or by name. Public API only.
 *
 * Helpers that cannot answer (no such node or link) fail the running cmocka
 * test instead of returning an error. */
#ifndef ACCEL_TEST_TOPOLOGY_SUPPORT_H
#define ACCEL_TEST_TOPOLOGY_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <accel/accel.h>

/* Node i (it must exist). */
accel_topology_node node_at(const accel_topology *t, uint32_t i);
/* The index of the node called name (it must exist). */
uint32_t node_named(const accel_topology *t, const char *name);
/* Whether there is a link from -> to (node indexes); stored in *out when
 * out is not NULL. */
bool link_between(const accel_topology *t, uint32_t from, uint32_t to, accel_topology_link *out);
/* The link between the nodes called from and to (it must exist). */
accel_topology_link must_link(const accel_topology *t, const char *from, const char *to);

#endif
