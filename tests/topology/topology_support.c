/* topology_support.c — see topology_support.h. */
#include "topology_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

accel_topology_node node_at(const accel_topology *t, uint32_t i)
{
    accel_topology_node n = {.struct_size = sizeof(n)};
    assert_int_equal(accel_topology_get_node(t, i, &n), ACCEL_SUCCESS);
    return n;
}

uint32_t node_named(const accel_topology *t, const char *name)
{
    for (uint32_t i = 0; i < accel_topology_node_count(t); i++)
        if (strcmp(node_at(t, i).name, name) == 0)
            return i;
    fail_msg("no node named %s", name);
    return UINT32_MAX;
}

bool link_between(const accel_topology *t, uint32_t from, uint32_t to, accel_topology_link *out)
{
    for (uint32_t i = 0; i < accel_topology_link_count(t); i++) {
        accel_topology_link l = {.struct_size = sizeof(l)};
        assert_int_equal(accel_topology_get_link(t, i, &l), ACCEL_SUCCESS);
        if (l.from == from && l.to == to) {
            if (out)
                *out = l;
            return true;
        }
    }
    return false;
}

accel_topology_link must_link(const accel_topology *t, const char *from, const char *to)
{
    accel_topology_link l;
    if (!link_between(t, node_named(t, from), node_named(t, to), &l))
        fail_msg("no link %s -> %s", from, to);
    return l;
}
