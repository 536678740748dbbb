/* test_handles.c — destroyed, doubly destroyed, mistyped and NULL handles:
 * every entry point that takes a handle answers ACCEL_ERROR_INVALID_HANDLE
 * (or the documented behaviour) instead of touching freed memory. Meant to
 * be run under ASan (a read of freed memory fails the run) and TSan (the
 * concurrent destroy and use). Objects come from the cpu driver of the
 * build tree. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

#ifndef BUILD_MANIFEST_DIR
#error "BUILD_MANIFEST_DIR must name the build tree's manifest directory"
#endif
#ifndef KERNELS_PATH
#error "KERNELS_PATH must name an ELF kernel library"
#endif

static const char *const pipeline_json =
    "{\"pipeline_version\": 1, \"name\": \"handles\", \"buffers\": {"
    " \"data\": {\"file\": \"data.bin\"},"
    " \"crc\": {\"bytes\": 4, \"output\": \"crc.bin\"}},"
    " \"stages\": [{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"data\"}, "
    "{\"buffer\": \"crc\"}]}]}";

/* One of every kind of object, all alive unless a test destroyed one. */
typedef struct objs {
    accel_instance *inst;
    accel_device *dev;
    accel_memory *mem;
    accel_program *prog;
    accel_function *fn;   /* conf_add(memory, u32, u32), from prog */
    accel_function *noop; /* accel.noop */
    accel_queue *queue;
    accel_fence *fence;
    accel_topology *topo;
    accel_pipeline *pipeline;
    accel_plan *plan;
    accel_run *run;
} objs;

static char *dir;

static accel_instance *new_instance(void)
{
    char *manifest = ts_printf("%s/accel_cpu.json", BUILD_MANIFEST_DIR);
    const char *paths[] = {manifest, NULL};
    accel_instance *inst = NULL;
    accel_result r = ts_create_with_paths(&inst, ACCEL_INSTANCE_FLAG_NO_ENV_SELECTION, paths);
    free(manifest);
    if (r != ACCEL_SUCCESS)
        fail_msg("accel_instance_create: %s", accel_last_error_message());
    return inst;
}

static void make_all(objs *o)
{
    memset(o, 0, sizeof(*o));
    o->inst = new_instance();
    o->dev = ts_device_of(o->inst, "cpu");
    assert_non_null(o->dev);
    accel_memory_alloc_info mi = {.struct_size = sizeof(mi), .size = 64, .numa_node = -1};
    assert_int_equal(accel_memory_alloc(o->inst, &mi, &o->mem), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_attach(o->mem, o->dev, NULL), ACCEL_SUCCESS);
    accel_result r = accel_program_load(o->dev, ACCEL_PROGRAM_FORMAT_ELF, KERNELS_PATH, 0, NULL, &o->prog);
    if (r != ACCEL_SUCCESS)
        fail_msg("accel_program_load %s: %s", KERNELS_PATH, accel_last_error_message());
    assert_int_equal(accel_function_get(o->dev, o->prog, "conf_add", &o->fn), ACCEL_SUCCESS);
    assert_int_equal(accel_function_get(o->dev, NULL, "accel.noop", &o->noop), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_create(o->dev, 0, &o->queue), ACCEL_SUCCESS);
    accel_submit_info si = {.struct_size = sizeof(si), .function = o->noop};
    assert_int_equal(accel_queue_submit(o->queue, &si, &o->fence), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(&o->fence, 1, true, UINT64_MAX), ACCEL_SUCCESS);
    r = accel_topology_create(o->inst, NULL, &o->topo);
    if (r != ACCEL_SUCCESS)
        fail_msg("accel_topology_create: %s", accel_last_error_message());
    assert_int_equal(accel_pipeline_parse(pipeline_json, strlen(pipeline_json), "handles.json", &o->pipeline),
                     ACCEL_SUCCESS);
    assert_int_equal(accel_pipeline_set_buffer_bytes(o->pipeline, 0, 16), ACCEL_SUCCESS);
    accel_place_options po = {.struct_size = sizeof(po)};
    r = accel_place(o->topo, o->pipeline, &po, &o->plan);
    if (r != ACCEL_SUCCESS)
        fail_msg("accel_place: %s", accel_last_error_message());
    accel_run_options ro = {.struct_size = sizeof(ro), .input_dir = dir};
    r = accel_run_create(o->inst, o->topo, o->pipeline, o->plan, &ro, &o->run);
    if (r != ACCEL_SUCCESS)
        fail_msg("accel_run_create: %s", accel_last_error_message());
}

/* Destroy what is left (NULL members were destroyed by the test). */
static void free_all(objs *o)
{
    assert_int_equal(accel_run_destroy(o->run), ACCEL_SUCCESS);
    assert_int_equal(accel_plan_destroy(o->plan), ACCEL_SUCCESS);
    assert_int_equal(accel_pipeline_destroy(o->pipeline), ACCEL_SUCCESS);
    assert_int_equal(accel_topology_destroy(o->topo), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_release(o->fence), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_destroy(o->queue), ACCEL_SUCCESS);
    assert_int_equal(accel_function_destroy(o->fn), ACCEL_SUCCESS);
    assert_int_equal(accel_function_destroy(o->noop), ACCEL_SUCCESS);
    assert_int_equal(accel_program_destroy(o->prog), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_free(o->mem), ACCEL_SUCCESS);
    assert_int_equal(accel_instance_destroy(o->inst), ACCEL_SUCCESS);
}

/* An entry point called with the handle under test (h) in its place and
 * every other argument valid (from o). Returns what the call returned;
 * calls that return no accel_result map their documented answer for an
 * invalid handle (0, NULL, nothing) to ACCEL_ERROR_INVALID_HANDLE. */
typedef accel_result (*use_fn)(objs *o, void *h);

typedef struct use {
    const char *name;
    use_fn call;
} use;

#define INVALID_IF(cond) ((cond) ? ACCEL_ERROR_INVALID_HANDLE : ACCEL_SUCCESS)

/* ---- instance ---- */
static accel_result u_enum_manifests(objs *o, void *h)
{
    (void)o;
    uint32_t n = 0;
    return accel_enumerate_manifests(h, &n, NULL);
}
static accel_result u_enum_drivers(objs *o, void *h)
{
    (void)o;
    uint32_t n = 0;
    return accel_enumerate_drivers(h, &n, NULL);
}
static accel_result u_enum_devices(objs *o, void *h)
{
    (void)o;
    uint32_t n = 0;
    return accel_enumerate_devices(h, &n, NULL);
}
static accel_result u_enum_nodes(objs *o, void *h)
{
    (void)o;
    uint32_t n = 0;
    return accel_enumerate_memory_nodes(h, &n, NULL);
}
static accel_result u_memory_alloc(objs *o, void *h)
{
    (void)o;
    accel_memory_alloc_info mi = {.struct_size = sizeof(mi), .size = 64, .numa_node = -1};
    accel_memory *m = NULL;
    return accel_memory_alloc(h, &mi, &m);
}
static accel_result u_import_host(objs *o, void *h)
{
    (void)o;
    static char bytes[64];
    accel_memory *m = NULL;
    return accel_memory_import_host(h, bytes, sizeof(bytes), 0, &m);
}
static accel_result u_import_fd(objs *o, void *h)
{
    (void)o;
    accel_memory *m = NULL;
    return accel_memory_import_fd(h, 0, 0, 64, 0, &m);
}
static accel_result u_topology_create(objs *o, void *h)
{
    (void)o;
    accel_topology *t = NULL;
    return accel_topology_create(h, NULL, &t);
}
static accel_result u_instance_topology(objs *o, void *h)
{
    (void)o;
    const accel_topology *t = NULL;
    return accel_instance_get_topology(h, &t);
}
static accel_result u_run_create_inst(objs *o, void *h)
{
    accel_run *r = NULL;
    return accel_run_create(h, o->topo, o->pipeline, o->plan, NULL, &r);
}
static accel_result u_instance_destroy(objs *o, void *h)
{
    (void)o;
    return accel_instance_destroy(h);
}

/* ---- device ---- */
static accel_result u_device_get_info(objs *o, void *h)
{
    (void)o;
    accel_device_info info = {.struct_size = sizeof(info)};
    return accel_device_get_info(h, &info);
}
static accel_result u_device_query(objs *o, void *h)
{
    (void)o;
    uint32_t v = 0;
    return accel_device_query(h, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &v, sizeof(v), NULL);
}
static accel_result u_device_nodes(objs *o, void *h)
{
    (void)o;
    uint32_t n = 0;
    return accel_device_get_memory_nodes(h, &n, NULL, NULL);
}
static accel_result u_queue_create(objs *o, void *h)
{
    (void)o;
    accel_queue *q = NULL;
    return accel_queue_create(h, 0, &q);
}
static accel_result u_program_load(objs *o, void *h)
{
    (void)o;
    accel_program *p = NULL;
    return accel_program_load(h, ACCEL_PROGRAM_FORMAT_ELF, KERNELS_PATH, 0, NULL, &p);
}
static accel_result u_function_get_dev(objs *o, void *h)
{
    (void)o;
    accel_function *f = NULL;
    return accel_function_get(h, NULL, "accel.noop", &f);
}
static accel_result u_attach_dev(objs *o, void *h)
{
    return accel_memory_attach(o->mem, h, NULL);
}
static accel_result u_detach_dev(objs *o, void *h)
{
    return accel_memory_detach(o->mem, h);
}

/* ---- memory ---- */
static accel_result u_export_fd(objs *o, void *h)
{
    (void)o;
    int fd = -1;
    accel_result r = accel_memory_export_fd(h, &fd, NULL);
    if (fd >= 0)
        close(fd);
    return r;
}
static accel_result u_map(objs *o, void *h)
{
    (void)o;
    void *p = NULL;
    return accel_memory_map(h, &p);
}
static accel_result u_size(objs *o, void *h)
{
    (void)o;
    return INVALID_IF(accel_memory_size(h) == 0);
}
static accel_result u_attach_mem(objs *o, void *h)
{
    return accel_memory_attach(h, o->dev, NULL);
}
static accel_result u_detach_mem(objs *o, void *h)
{
    return accel_memory_detach(h, o->dev);
}
static accel_result u_get_node(objs *o, void *h)
{
    (void)o;
    accel_result r = ACCEL_SUCCESS;
    if (!accel_memory_get_node(h))
        r = strstr(accel_last_error_message(), "accel_memory_get_node") ? ACCEL_ERROR_INVALID_HANDLE
                                                                        : ACCEL_SUCCESS;
    return r;
}
static accel_result u_arg_mode_mem(objs *o, void *h)
{
    accel_attach_mode mode;
    return accel_function_arg_mode(o->fn, 0, h, &mode);
}
static void add_args(objs *o, accel_memory *m, accel_arg args[3])
{
    (void)o;
    memset(args, 0, 3 * sizeof(*args));
    args[0].kind = ACCEL_ARG_MEMORY;
    args[0].u.mem.memory = m;
    args[0].u.mem.size = 64;
    args[1].kind = ACCEL_ARG_U32;
    args[1].u.u32 = 16;
    args[2].kind = ACCEL_ARG_U32;
    args[2].u.u32 = 1;
}
static accel_result u_submit_mem(objs *o, void *h)
{
    accel_arg args[3];
    add_args(o, h, args);
    accel_submit_info si = {.struct_size = sizeof(si),
                            .function = o->fn,
                            .args = args,
                            .arg_count = 3,
                            .work_dim = 1,
                            .work_size = {16, 1, 1}};
    return accel_queue_submit(o->queue, &si, NULL);
}
static accel_result u_memory_free(objs *o, void *h)
{
    (void)o;
    return accel_memory_free(h);
}

/* ---- program ---- */
static accel_result u_function_get_prog(objs *o, void *h)
{
    accel_function *f = NULL;
    return accel_function_get(o->dev, h, "conf_add", &f);
}
static accel_result u_program_destroy(objs *o, void *h)
{
    (void)o;
    return accel_program_destroy(h);
}

/* ---- function ---- */
static accel_result u_signature(objs *o, void *h)
{
    (void)o;
    uint32_t n = 0;
    return accel_function_get_signature(h, &n, NULL);
}
static accel_result u_arg_node(objs *o, void *h)
{
    (void)o;
    accel_memory_node *node = NULL;
    return accel_function_arg_node(h, 0, &node);
}
static accel_result u_arg_mode_fn(objs *o, void *h)
{
    accel_attach_mode mode;
    return accel_function_arg_mode(h, 0, o->mem, &mode);
}
static accel_result u_submit_fn(objs *o, void *h)
{
    accel_submit_info si = {.struct_size = sizeof(si), .function = h};
    return accel_queue_submit(o->queue, &si, NULL);
}
static accel_result u_function_destroy(objs *o, void *h)
{
    (void)o;
    return accel_function_destroy(h);
}

/* ---- queue ---- */
static accel_result u_finish(objs *o, void *h)
{
    (void)o;
    return accel_queue_finish(h);
}
static accel_result u_submit_queue(objs *o, void *h)
{
    accel_submit_info si = {.struct_size = sizeof(si), .function = o->noop};
    return accel_queue_submit(h, &si, NULL);
}
static accel_result u_queue_destroy(objs *o, void *h)
{
    (void)o;
    return accel_queue_destroy(h);
}

/* ---- fence ---- */
static accel_result u_fence_status(objs *o, void *h)
{
    (void)o;
    return accel_fence_status(h);
}
static accel_result u_fence_wait(objs *o, void *h)
{
    accel_fence *fences[2] = {o->fence, h};
    return accel_fence_wait(fences, 2, true, 0);
}
static accel_result u_submit_wait(objs *o, void *h)
{
    accel_fence *w = h;
    accel_submit_info si = {
        .struct_size = sizeof(si), .function = o->noop, .wait_fences = &w, .wait_fence_count = 1};
    return accel_queue_submit(o->queue, &si, NULL);
}
static accel_result u_fence_release(objs *o, void *h)
{
    (void)o;
    return accel_fence_release(h);
}

/* ---- topology ---- */
static accel_result u_node_count(objs *o, void *h)
{
    (void)o;
    return INVALID_IF(accel_topology_node_count(h) == 0);
}
static accel_result u_link_count(objs *o, void *h)
{
    (void)o;
    return INVALID_IF(accel_topology_link_count(h) == 0);
}
static accel_result u_get_tnode(objs *o, void *h)
{
    (void)o;
    accel_topology_node n = {.struct_size = sizeof(n)};
    return accel_topology_get_node(h, 0, &n);
}
static accel_result u_get_link(objs *o, void *h)
{
    (void)o;
    accel_topology_link l = {.struct_size = sizeof(l)};
    return accel_topology_get_link(h, 0, &l);
}
static accel_result u_get_function(objs *o, void *h)
{
    (void)o;
    accel_topology_function f = {.struct_size = sizeof(f)};
    return accel_topology_get_function(h, 0, 0, &f);
}
static accel_result u_find_device(objs *o, void *h)
{
    uint32_t i = 0;
    return accel_topology_find_device(h, o->dev, &i);
}
static accel_result u_reach(objs *o, void *h)
{
    (void)o;
    accel_attach_mode mode;
    return accel_topology_reach(h, 0, 0, &mode, NULL, NULL);
}
static accel_result u_best_node(objs *o, void *h)
{
    (void)o;
    uint32_t init = 0, mem = 0;
    return accel_topology_best_memory_node(h, &init, 1, &mem);
}
static accel_result u_export(objs *o, void *h)
{
    (void)o;
    size_t n = 0;
    return accel_topology_export(h, ACCEL_TOPOLOGY_FORMAT_JSON, NULL, 0, &n);
}
static accel_result u_place_topo(objs *o, void *h)
{
    accel_plan *p = NULL;
    return accel_place(h, o->pipeline, NULL, &p);
}
static accel_result u_run_create_topo(objs *o, void *h)
{
    accel_run *r = NULL;
    return accel_run_create(o->inst, h, o->pipeline, o->plan, NULL, &r);
}
static accel_result u_topology_destroy(objs *o, void *h)
{
    (void)o;
    return accel_topology_destroy(h);
}

/* ---- pipeline ---- */
static accel_result u_stage_count(objs *o, void *h)
{
    (void)o;
    return INVALID_IF(accel_pipeline_stage_count(h) == 0);
}
static accel_result u_buffer_count(objs *o, void *h)
{
    (void)o;
    return INVALID_IF(accel_pipeline_buffer_count(h) == 0);
}
static accel_result u_get_stage(objs *o, void *h)
{
    (void)o;
    accel_pipeline_stage s = {.struct_size = sizeof(s)};
    return accel_pipeline_get_stage(h, 0, &s);
}
static accel_result u_get_buffer(objs *o, void *h)
{
    (void)o;
    accel_pipeline_buffer b = {.struct_size = sizeof(b)};
    return accel_pipeline_get_buffer(h, 0, &b);
}
static accel_result u_set_bytes(objs *o, void *h)
{
    (void)o;
    return accel_pipeline_set_buffer_bytes(h, 0, 32);
}
static accel_result u_constrain(objs *o, void *h)
{
    (void)o;
    return accel_pipeline_constrain_stage(h, "crc", "cpu:0");
}
static accel_result u_place_pipeline(objs *o, void *h)
{
    accel_plan *p = NULL;
    return accel_place(o->topo, h, NULL, &p);
}
static accel_result u_run_create_pipeline(objs *o, void *h)
{
    accel_run *r = NULL;
    return accel_run_create(o->inst, o->topo, h, o->plan, NULL, &r);
}
static accel_result u_pipeline_destroy(objs *o, void *h)
{
    (void)o;
    return accel_pipeline_destroy(h);
}

/* ---- plan ---- */
static accel_result u_summary(objs *o, void *h)
{
    (void)o;
    accel_plan_summary s = {.struct_size = sizeof(s)};
    return accel_plan_get_summary(h, &s);
}
static accel_result u_plan_stage(objs *o, void *h)
{
    (void)o;
    accel_plan_stage s = {.struct_size = sizeof(s)};
    return accel_plan_get_stage(h, 0, &s);
}
static accel_result u_plan_buffer(objs *o, void *h)
{
    (void)o;
    accel_plan_buffer b = {.struct_size = sizeof(b)};
    return accel_plan_get_buffer(h, 0, &b);
}
static accel_result u_plan_use(objs *o, void *h)
{
    (void)o;
    accel_attach_mode mode;
    return accel_plan_get_use(h, 0, 0, &mode);
}
static accel_result u_conflict(objs *o, void *h)
{
    (void)o;
    accel_plan_conflict c = {.struct_size = sizeof(c)};
    return accel_plan_get_conflict(h, &c);
}
static accel_result u_describe(objs *o, void *h)
{
    (void)o;
    size_t n = 0;
    return accel_plan_describe(h, true, NULL, 0, &n);
}
static accel_result u_plan_json(objs *o, void *h)
{
    (void)o;
    size_t n = 0;
    return accel_plan_export_json(h, NULL, 0, &n);
}
static accel_result u_run_create_plan(objs *o, void *h)
{
    accel_run *r = NULL;
    return accel_run_create(o->inst, o->topo, o->pipeline, h, NULL, &r);
}
static accel_result u_plan_destroy(objs *o, void *h)
{
    (void)o;
    return accel_plan_destroy(h);
}

/* ---- run ---- */
static accel_result u_bind(objs *o, void *h)
{
    (void)o;
    accel_run_io io = {.struct_size = sizeof(io), .kind = ACCEL_RUN_IO_FD, .fd = 0};
    return accel_run_bind(h, 0, &io);
}
static accel_result u_execute(objs *o, void *h)
{
    (void)o;
    accel_run_result res = {.struct_size = sizeof(res)};
    return accel_run_execute(h, &res);
}
static accel_result u_cancel(objs *o, void *h)
{
    (void)o;
    accel_run_cancel(h); /* documented: ignores an invalid handle */
    return ACCEL_ERROR_INVALID_HANDLE;
}
static accel_result u_run_destroy(objs *o, void *h)
{
    (void)o;
    return accel_run_destroy(h);
}

#define USE(f)                                                                                               \
    {                                                                                                        \
#f, f                                                                                                \
    }
#define END                                                                                                  \
    {                                                                                                        \
        NULL, NULL                                                                                           \
    }

static const use instance_uses[] = {USE(u_enum_manifests),  USE(u_enum_drivers),     USE(u_enum_devices),
                                    USE(u_enum_nodes),      USE(u_memory_alloc),     USE(u_import_host),
                                    USE(u_import_fd),       USE(u_topology_create),  USE(u_instance_topology),
                                    USE(u_run_create_inst), USE(u_instance_destroy), END};
static const use device_uses[] = {USE(u_device_get_info), USE(u_device_query), USE(u_device_nodes),
                                  USE(u_queue_create),    USE(u_program_load), USE(u_function_get_dev),
                                  USE(u_attach_dev),      USE(u_detach_dev),   END};
static const use memory_uses[] = {
    USE(u_export_fd), USE(u_map),          USE(u_size),       USE(u_attach_mem),  USE(u_detach_mem),
    USE(u_get_node),  USE(u_arg_mode_mem), USE(u_submit_mem), USE(u_memory_free), END};
static const use program_uses[] = {USE(u_function_get_prog), USE(u_program_destroy), END};
static const use function_uses[] = {USE(u_signature), USE(u_arg_node),         USE(u_arg_mode_fn),
                                    USE(u_submit_fn), USE(u_function_destroy), END};
static const use queue_uses[] = {USE(u_finish), USE(u_submit_queue), USE(u_queue_destroy), END};
static const use fence_uses[] = {USE(u_fence_status), USE(u_fence_wait), USE(u_submit_wait),
                                 USE(u_fence_release), END};
static const use topology_uses[] = {USE(u_node_count),
                                    USE(u_link_count),
                                    USE(u_get_tnode),
                                    USE(u_get_link),
                                    USE(u_get_function),
                                    USE(u_find_device),
                                    USE(u_reach),
                                    USE(u_best_node),
                                    USE(u_export),
                                    USE(u_place_topo),
                                    USE(u_run_create_topo),
                                    USE(u_topology_destroy),
                                    END};
static const use pipeline_uses[] = {USE(u_stage_count),      USE(u_buffer_count),
                                    USE(u_get_stage),        USE(u_get_buffer),
                                    USE(u_set_bytes),        USE(u_constrain),
                                    USE(u_place_pipeline),   USE(u_run_create_pipeline),
                                    USE(u_pipeline_destroy), END};
static const use plan_uses[] = {
    USE(u_summary),  USE(u_plan_stage), USE(u_plan_buffer),     USE(u_plan_use),     USE(u_conflict),
    USE(u_describe), USE(u_plan_json),  USE(u_run_create_plan), USE(u_plan_destroy), END};
static const use run_uses[] = {USE(u_bind), USE(u_execute), USE(u_cancel), USE(u_run_destroy), END};

/* Every use of a dead handle fails with ACCEL_ERROR_INVALID_HANDLE and a
 * message naming the entry point. */
static void expect_all_invalid(objs *o, const use *uses, void *dead, const char *what)
{
    for (const use *u = uses; u->name; u++) {
        accel_result r = u->call(o, dead);
        if (r != ACCEL_ERROR_INVALID_HANDLE)
            fail_msg("%s: %s gave %s (%s), not ACCEL_ERROR_INVALID_HANDLE", what, u->name,
                     accel_result_name(r), accel_last_error_message());
        if (strcmp(u->name, "u_cancel") != 0 && strcmp(u->name, "u_size") != 0 &&
            strcmp(u->name, "u_node_count") != 0 && strcmp(u->name, "u_link_count") != 0 &&
            strcmp(u->name, "u_stage_count") != 0 && strcmp(u->name, "u_buffer_count") != 0 &&
            !strstr(accel_last_error_message(), "accel_"))
            fail_msg("%s: %s: the message does not name the call: \"%s\"", what, u->name,
                     accel_last_error_message());
    }
}

/* Every use of a live handle does not answer ACCEL_ERROR_INVALID_HANDLE
 * (so that the table above cannot pass by failing for another reason). */
static void expect_none_invalid(objs *o, const use *uses, void *live, const char *what)
{
    for (const use *u = uses; u->name; u++) {
        if (strstr(u->name, "destroy") || strstr(u->name, "free") || strstr(u->name, "release") ||
            strcmp(u->name, "u_cancel") == 0 || strcmp(u->name, "u_execute") == 0 ||
            strcmp(u->name, "u_detach_mem") == 0 || strcmp(u->name, "u_detach_dev") == 0)
            continue; /* would consume or change the live object */
        accel_result r = u->call(o, live);
        if (r == ACCEL_ERROR_INVALID_HANDLE)
            fail_msg("%s: %s on a live handle gave ACCEL_ERROR_INVALID_HANDLE (%s)", what, u->name,
                     accel_last_error_message());
    }
}

/* Live handles are accepted by every use in the tables. Objects the uses
 * create (topology_create, program_load, …) are left to the instance or
 * leak-checked below; those that are not instance-owned are made through
 * uses that fail before creating anything. */
static void test_handles_live_accepted(void **state)
{
    (void)state;
    objs o;
    make_all(&o);
    /* Uses that create objects are covered by make_all; here only those
     * that create nothing. */
    static const use instance_quiet[] = {USE(u_enum_manifests), USE(u_enum_drivers),      USE(u_enum_devices),
                                         USE(u_enum_nodes),     USE(u_instance_topology), END};
    expect_none_invalid(&o, instance_quiet, o.inst, "instance");
    static const use device_quiet[] = {USE(u_device_get_info), USE(u_device_query), USE(u_device_nodes), END};
    expect_none_invalid(&o, device_quiet, o.dev, "device");
    expect_none_invalid(&o, memory_uses, o.mem, "memory");
    static const use function_quiet[] = {USE(u_signature), USE(u_arg_node), USE(u_arg_mode_fn), END};
    expect_none_invalid(&o, function_quiet, o.fn, "function");
    static const use queue_quiet[] = {USE(u_finish), END};
    expect_none_invalid(&o, queue_quiet, o.queue, "queue");
    static const use fence_quiet[] = {USE(u_fence_status), USE(u_fence_wait), END};
    expect_none_invalid(&o, fence_quiet, o.fence, "fence");
    static const use topology_quiet[] = {
        USE(u_node_count),  USE(u_link_count), USE(u_get_tnode), USE(u_get_link),
        USE(u_find_device), USE(u_reach),      USE(u_export),    END};
    expect_none_invalid(&o, topology_quiet, o.topo, "topology");
    static const use pipeline_quiet[] = {USE(u_stage_count),
                                         USE(u_buffer_count),
                                         USE(u_get_stage),
                                         USE(u_get_buffer),
                                         USE(u_set_bytes),
                                         USE(u_constrain),
                                         END};
    expect_none_invalid(&o, pipeline_quiet, o.pipeline, "pipeline");
    static const use plan_quiet[] = {USE(u_summary),  USE(u_plan_stage), USE(u_plan_buffer), USE(u_plan_use),
                                     USE(u_conflict), USE(u_describe),   USE(u_plan_json),   END};
    expect_none_invalid(&o, plan_quiet, o.plan, "plan");
    free_all(&o);
}

/* Destroy one object, then every entry point that takes it, destroying it
 * again among them. */
static void test_handles_use_after_destroy(void **state)
{
    (void)state;
    objs o;
    void *dead;

    make_all(&o);
    dead = o.run;
    assert_int_equal(accel_run_destroy(o.run), ACCEL_SUCCESS);
    o.run = NULL;
    expect_all_invalid(&o, run_uses, dead, "run");
    dead = o.plan;
    assert_int_equal(accel_plan_destroy(o.plan), ACCEL_SUCCESS);
    o.plan = NULL;
    expect_all_invalid(&o, plan_uses, dead, "plan");
    free_all(&o);

    make_all(&o);
    accel_run_destroy(o.run);
    o.run = NULL;
    dead = o.pipeline;
    assert_int_equal(accel_pipeline_destroy(o.pipeline), ACCEL_SUCCESS);
    o.pipeline = NULL;
    expect_all_invalid(&o, pipeline_uses, dead, "pipeline");
    free_all(&o);

    make_all(&o);
    accel_run_destroy(o.run);
    o.run = NULL;
    dead = o.topo;
    assert_int_equal(accel_topology_destroy(o.topo), ACCEL_SUCCESS);
    o.topo = NULL;
    expect_all_invalid(&o, topology_uses, dead, "topology");
    free_all(&o);

    make_all(&o);
    dead = o.fence;
    assert_int_equal(accel_fence_release(o.fence), ACCEL_SUCCESS);
    o.fence = NULL;
    expect_all_invalid(&o, fence_uses, dead, "fence");
    dead = o.fn;
    assert_int_equal(accel_function_destroy(o.fn), ACCEL_SUCCESS);
    o.fn = NULL;
    expect_all_invalid(&o, function_uses, dead, "function");
    dead = o.prog;
    assert_int_equal(accel_program_destroy(o.prog), ACCEL_SUCCESS);
    o.prog = NULL;
    expect_all_invalid(&o, program_uses, dead, "program");
    free_all(&o);

    make_all(&o);
    dead = o.queue;
    assert_int_equal(accel_queue_destroy(o.queue), ACCEL_SUCCESS);
    o.queue = NULL;
    expect_all_invalid(&o, queue_uses, dead, "queue");
    free_all(&o);

    make_all(&o);
    dead = o.mem;
    assert_int_equal(accel_memory_free(o.mem), ACCEL_SUCCESS);
    o.mem = NULL;
    expect_all_invalid(&o, memory_uses, dead, "memory");
    free_all(&o);

    /* The instance last: what it owned goes with it (devices, memory,
     * queues, programs and functions); a run prepared on it refuses to
     * execute; fences, topologies, pipelines and plans stay the
     * application's. */
    make_all(&o);
    void *dev = o.dev, *mem = o.mem, *queue = o.queue, *prog = o.prog, *fn = o.fn, *noop = o.noop;
    dead = o.inst;
    assert_int_equal(accel_instance_destroy(o.inst), ACCEL_SUCCESS);
    objs none = {0};
    expect_all_invalid(&none, instance_uses, dead, "instance");
    static const use device_alone[] = {USE(u_device_get_info),
                                       USE(u_device_query),
                                       USE(u_device_nodes),
                                       USE(u_queue_create),
                                       USE(u_program_load),
                                       USE(u_function_get_dev),
                                       END};
    expect_all_invalid(&none, device_alone, dev, "device of a destroyed instance");
    static const use memory_alone[] = {USE(u_export_fd), USE(u_map),         USE(u_size),
                                       USE(u_get_node),  USE(u_memory_free), END};
    expect_all_invalid(&none, memory_alone, mem, "memory of a destroyed instance");
    static const use queue_alone[] = {USE(u_finish), USE(u_queue_destroy), END};
    expect_all_invalid(&none, queue_alone, queue, "queue of a destroyed instance");
    expect_all_invalid(&none, program_uses, prog, "program of a destroyed instance");
    expect_all_invalid(&none, function_uses, fn, "function of a destroyed instance");
    expect_all_invalid(&none, function_uses, noop, "built-in function of a destroyed instance");
    expect_all_invalid(&none, (const use[]){USE(u_execute), END}, o.run, "run of a destroyed instance");
    assert_int_equal(accel_run_destroy(o.run), ACCEL_SUCCESS);
    assert_int_equal(accel_plan_destroy(o.plan), ACCEL_SUCCESS);
    assert_int_equal(accel_pipeline_destroy(o.pipeline), ACCEL_SUCCESS);
    assert_int_equal(accel_topology_destroy(o.topo), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_release(o.fence), ACCEL_SUCCESS);
}

/* A device of a live instance, with memory and a queue of a destroyed one. */
static void test_handles_device_uses(void **state)
{
    (void)state;
    objs o;
    make_all(&o);
    objs other;
    make_all(&other);
    accel_device *dead_dev = other.dev;
    free_all(&other);
    /* memory_attach / detach with a live memory and a dead device. */
    expect_all_invalid(&o, device_uses, dead_dev, "device");
    free_all(&o);
}

/* One object of each type passed where another type is expected. */
static void test_handles_wrong_type(void **state)
{
    (void)state;
    objs o;
    make_all(&o);
    expect_all_invalid(&o, (const use[]){USE(u_fence_status), USE(u_fence_wait), END}, o.queue,
                       "queue as fence");
    expect_all_invalid(&o, (const use[]){USE(u_finish), USE(u_submit_queue), END}, o.fence, "fence as queue");
    expect_all_invalid(&o, (const use[]){USE(u_map), USE(u_size), USE(u_submit_mem), END}, o.plan,
                       "plan as memory");
    expect_all_invalid(&o, (const use[]){USE(u_get_stage), USE(u_stage_count), END}, o.plan,
                       "plan as pipeline");
    expect_all_invalid(&o, (const use[]){USE(u_summary), END}, o.pipeline, "pipeline as plan");
    expect_all_invalid(&o, (const use[]){USE(u_node_count), USE(u_place_topo), END}, o.run,
                       "run as topology");
    expect_all_invalid(&o, (const use[]){USE(u_signature), USE(u_submit_fn), END}, o.prog,
                       "program as function");
    expect_all_invalid(&o, (const use[]){USE(u_function_get_prog), END}, o.fn, "function as program");
    expect_all_invalid(&o, (const use[]){USE(u_enum_devices), USE(u_memory_alloc), END}, o.mem,
                       "memory as instance");
    expect_all_invalid(&o, (const use[]){USE(u_execute), USE(u_bind), END}, o.topo, "topology as run");
    /* Objects that are not devices, passed as devices (the tag check). */
    expect_all_invalid(&o,
                       (const use[]){USE(u_device_query), USE(u_device_get_info), USE(u_queue_create), END},
                       o.fence, "fence as device");
    expect_all_invalid(&o, (const use[]){USE(u_device_query), USE(u_attach_dev), END}, o.queue,
                       "queue as device");
    expect_all_invalid(&o, (const use[]){USE(u_device_query), END}, o.inst, "instance as device");
    /* Destroying through the wrong type leaves the object alive. */
    assert_int_equal(accel_fence_release((accel_fence *)o.queue), ACCEL_ERROR_INVALID_HANDLE);
    assert_int_equal(accel_memory_free((accel_memory *)o.plan), ACCEL_ERROR_INVALID_HANDLE);
    assert_int_equal(accel_instance_destroy((accel_instance *)o.topo), ACCEL_ERROR_INVALID_HANDLE);
    assert_int_equal(accel_queue_finish(o.queue), ACCEL_SUCCESS);
    free_all(&o);
}

/* NULL: ACCEL_ERROR_INVALID_ARGUMENT for uses, a no-op for destroys. */
static void test_handles_null(void **state)
{
    (void)state;
    uint32_t n = 0, v = 0;
    void *p = NULL;
    assert_int_equal(accel_fence_status(NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_queue_finish(NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_memory_map(NULL, &p), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_enumerate_devices(NULL, &n, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_device_query(NULL, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &v, sizeof(v), NULL),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_plan_get_use(NULL, 0, 0, (accel_attach_mode *)&v), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_memory_size(NULL), 0);
    assert_int_equal(accel_topology_node_count(NULL), 0);
    accel_run_cancel(NULL);
    assert_int_equal(accel_instance_destroy(NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_free(NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_program_destroy(NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_function_destroy(NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_destroy(NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_release(NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_topology_destroy(NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_pipeline_destroy(NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_plan_destroy(NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_run_destroy(NULL), ACCEL_SUCCESS);
}

/* A fence outlives its queue and its instance until it is released
 * (accel.h, accel_queue_destroy): its status stays readable. */
static void test_handles_fence_outlives_instance(void **state)
{
    (void)state;
    objs o;
    make_all(&o);
    accel_fence *f = o.fence;
    o.fence = NULL;
    free_all(&o);
    assert_int_equal(accel_fence_status(f), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_release(f), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_release(f), ACCEL_ERROR_INVALID_HANDLE);
}

/* ---- two threads ---- */

typedef struct race {
    objs *o;
    atomic_int stop;
    atomic_int started;
    atomic_ulong uses;
    unsigned long invalid;   /* the user's; read after the join */
    char error[256];         /* the user's */
    char destroy_error[256]; /* the destroyer's */
} race;

static void *race_user(void *arg)
{
    race *rc = arg;
    objs *o = rc->o;
    atomic_store(&rc->started, 1);
    while (!atomic_load(&rc->stop)) {
        accel_result r[4];
        void *p = NULL;
        r[0] = accel_fence_status(o->fence);
        r[1] = accel_queue_finish(o->queue);
        r[2] = accel_memory_map(o->mem, &p);
        accel_plan_summary s = {.struct_size = sizeof(s)};
        r[3] = accel_plan_get_summary(o->plan, &s);
        for (int i = 0; i < 4; i++) {
            if (r[i] == ACCEL_ERROR_INVALID_HANDLE)
                rc->invalid++;
            else if (r[i] != ACCEL_SUCCESS && !rc->error[0])
                snprintf(rc->error, sizeof(rc->error), "use %d: %s: %s", i, accel_result_name(r[i]),
                         accel_last_error_message());
        }
        atomic_fetch_add(&rc->uses, 1);
    }
    return NULL;
}

static void *race_destroyer(void *arg)
{
    race *rc = arg;
    objs *o = rc->o;
    if (accel_fence_release(o->fence) != ACCEL_SUCCESS || accel_queue_destroy(o->queue) != ACCEL_SUCCESS ||
        accel_memory_free(o->mem) != ACCEL_SUCCESS || accel_plan_destroy(o->plan) != ACCEL_SUCCESS)
        snprintf(rc->destroy_error, sizeof(rc->destroy_error), "a destroy racing the uses failed: %s",
                 accel_last_error_message());
    return NULL;
}

/* One thread keeps using a fence, a queue, memory and a plan while another
 * destroys them: every use either works or answers
 * ACCEL_ERROR_INVALID_HANDLE, and nothing crashes (ASan, TSan). */
static void test_handles_concurrent_destroy_and_use(void **state)
{
    (void)state;
    for (int round = 0; round < 5; round++) {
        objs o;
        make_all(&o);
        accel_run_destroy(o.run);
        o.run = NULL;
        race rc = {.o = &o};
        pthread_t user, destroyer;
        assert_int_equal(pthread_create(&user, NULL, race_user, &rc), 0);
        while (!atomic_load(&rc.started))
            sched_yield();
        usleep(1000u * (unsigned)round);
        assert_int_equal(pthread_create(&destroyer, NULL, race_destroyer, &rc), 0);
        pthread_join(destroyer, NULL);
        /* Let the user see the dead handles a while. */
        unsigned long seen = atomic_load(&rc.uses);
        while (atomic_load(&rc.uses) < seen + 3)
            sched_yield();
        atomic_store(&rc.stop, 1);
        pthread_join(user, NULL);
        if (rc.error[0] || rc.destroy_error[0])
            fail_msg("round %d: %s%s", round, rc.error, rc.destroy_error);
        assert_true(rc.invalid > 0);
        o.fence = NULL;
        o.queue = NULL;
        o.mem = NULL;
        o.plan = NULL;
        free_all(&o);
    }
}

typedef struct twice {
    accel_memory *mem;
    accel_queue *queue;
    accel_result r[2];
} twice;

static void *destroy_once(void *arg)
{
    twice *t = arg;
    t->r[0] = accel_memory_free(t->mem);
    t->r[1] = accel_queue_destroy(t->queue);
    return NULL;
}

/* Two threads destroy the same objects at once: one succeeds, the other
 * gets ACCEL_ERROR_INVALID_HANDLE. */
static void test_handles_concurrent_double_destroy(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        objs o;
        make_all(&o);
        twice a = {.mem = o.mem, .queue = o.queue}, b = a;
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, destroy_once, &a), 0);
        assert_int_equal(pthread_create(&tb, NULL, destroy_once, &b), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        for (int i = 0; i < 2; i++) {
            int ok = (a.r[i] == ACCEL_SUCCESS) + (b.r[i] == ACCEL_SUCCESS);
            int invalid = (a.r[i] == ACCEL_ERROR_INVALID_HANDLE) + (b.r[i] == ACCEL_ERROR_INVALID_HANDLE);
            if (ok != 1 || invalid != 1)
                fail_msg("round %d, %s: %s and %s", round, i ? "queue" : "memory", accel_result_name(a.r[i]),
                         accel_result_name(b.r[i]));
        }
        o.mem = NULL;
        o.queue = NULL;
        free_all(&o);
    }
}

/* Thousands of live handles at once (the registry grows, and entries leave
 * from the middle of its probe runs): every live one stays usable, every
 * destroyed one answers ACCEL_ERROR_INVALID_HANDLE. */
static void test_handles_many(void **state)
{
    (void)state;
    enum { N = 3000 };
    accel_pipeline **p = calloc(N, sizeof(*p));
    assert_non_null(p);
    for (int i = 0; i < N; i++)
        assert_int_equal(accel_pipeline_parse(pipeline_json, strlen(pipeline_json), "many.json", &p[i]),
                         ACCEL_SUCCESS);
    /* Destroy in a scattered order: every third, then every third of the
     * rest shifted by one. */
    for (int i = 0; i < N; i += 3)
        assert_int_equal(accel_pipeline_destroy(p[i]), ACCEL_SUCCESS);
    for (int i = 1; i < N; i += 3)
        if (i % 2)
            assert_int_equal(accel_pipeline_destroy(p[i]), ACCEL_SUCCESS);
    for (int i = 0; i < N; i++) {
        bool dead = i % 3 == 0 || (i % 3 == 1 && i % 2);
        if (dead) {
            assert_int_equal(accel_pipeline_stage_count(p[i]), 0);
            assert_int_equal(accel_pipeline_destroy(p[i]), ACCEL_ERROR_INVALID_HANDLE);
        } else {
            assert_int_equal(accel_pipeline_stage_count(p[i]), 1);
        }
    }
    for (int i = 0; i < N; i++)
        if (!(i % 3 == 0 || (i % 3 == 1 && i % 2)))
            assert_int_equal(accel_pipeline_destroy(p[i]), ACCEL_SUCCESS);
    free(p);
}

static int group_setup(void **state)
{
    (void)state;
    dir = ts_mkdtemp("handles");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ts_rmtree(dir);
    free(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handles_live_accepted),
        cmocka_unit_test(test_handles_use_after_destroy),
        cmocka_unit_test(test_handles_device_uses),
        cmocka_unit_test(test_handles_wrong_type),
        cmocka_unit_test(test_handles_null),
        cmocka_unit_test(test_handles_fence_outlives_instance),
        cmocka_unit_test(test_handles_concurrent_destroy_and_use),
        cmocka_unit_test(test_handles_concurrent_double_destroy),
        cmocka_unit_test(test_handles_many),
    };
    return cmocka_run_group_tests_name("handles", tests, group_setup, group_teardown);
}
