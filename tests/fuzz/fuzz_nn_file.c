/*
 * fuzz_nn_file: network weight files (format 2: the header in the user block, then HDF5)
 * through zm_net_file_info and zm_net_load into a zoonet of the shipped model's shape
 * (1 channel, 64 pixels, 34 outputs), with each load flag: the real load path, whose
 * whole-file check refuses a mutated file before HDF5 sees it. On any error the network
 * must be left unchanged (nn_file.h).
 * ZM_FUZZ_NN_RESEAL=1: an input that starts with the magic gets its header's length and
 * CRC rewritten for its bytes (and the rest of the user block zeroed) first, as a forger
 * would, so that mutations reach HDF5 and zoomorph's attribute and tensor checks (and
 * HDF5 1.10.8's own overflow on corrupt attribute messages: docs/reliability.md).
 */
#include "fuzz_common.h"
#include "zoomorph/nn.h"
#include "zoomorph/nn_file.h"

static zm_net *g_net;
static float *g_params, *g_state;
static int g_reseal;
static uint8_t *g_buf;
static size_t g_cap;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet();
    zm_net_config cfg = zm_net_config_default("zoonet");
    cfg.in_ch = 1;
    cfg.in_size = 64;
    cfg.n_out = 34;
    cfg.max_batch = 1;
    cfg.inference_only = 1;
    zm_err err = {0};
    if (zm_net_create(&g_net, &cfg, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    g_params = malloc(g_net->n_params * sizeof(float));
    g_state = malloc(g_net->n_state * sizeof(float));
    if (!g_params || !g_state) abort();
    g_reseal = getenv("ZM_FUZZ_NN_RESEAL") && atoi(getenv("ZM_FUZZ_NN_RESEAL"));
    return 0;
}

/* data with its header made right for its bytes (ZM_FUZZ_NN_RESEAL), or data itself */
static const uint8_t *resealed(const uint8_t *data, size_t n)
{
    if (!g_reseal || n <= ZM_NN_USERBLOCK || memcmp(data, ZM_NN_MAGIC, strlen(ZM_NN_MAGIC)))
        return data;
    if (n > g_cap) {
        free(g_buf);
        g_buf = malloc(n);
        if (!g_buf) abort();
        g_cap = n;
    }
    memcpy(g_buf, data, n);
    memset(g_buf + ZM_NN_HEADER_LEN, 0, ZM_NN_USERBLOCK - ZM_NN_HEADER_LEN);
    uint32_t crc = zm_crc32(0, g_buf + ZM_NN_USERBLOCK, n - ZM_NN_USERBLOCK);
    for (int i = 0; i < 8; i++) g_buf[32 + i] = (uint8_t)((uint64_t)n >> (8 * i));
    for (int i = 0; i < 4; i++) g_buf[40 + i] = (uint8_t)(crc >> (8 * i));
    return g_buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const char *path = fuzz_write_file(resealed(data, n), n, ".h5");
    zm_nn_file_info info;
    zm_err err = {0};
    if (zm_net_file_info(path, &info, &err)) {
        if (!err.msg[0]) abort();
    }
    static const int flags[3] = {0, ZM_LOAD_SKIP_HEAD, ZM_LOAD_ANY_SIZE};
    int fl = flags[n % 3];
    memcpy(g_params, g_net->params, g_net->n_params * sizeof(float));
    memcpy(g_state, g_net->state, g_net->n_state * sizeof(float));
    zm_err_clear(&err);
    if (zm_net_load(g_net, path, fl, &err)) {
        if (!err.msg[0]) abort();
        if (memcmp(g_params, g_net->params, g_net->n_params * sizeof(float)) ||
            memcmp(g_state, g_net->state, g_net->n_state * sizeof(float))) {
            fprintf(stderr, "a failed load changed the network: %s\n", err.msg);
            abort();
        }
    }
    return 0;
}
