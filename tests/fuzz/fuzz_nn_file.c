/*
 * fuzz_nn_file: network weight files (HDF5) through zm_net_file_info and zm_net_load
 * into a zoonet of the shipped model's shape (1 channel, 64 pixels, 34 outputs), with
 * each load flag. On any error the network must be left unchanged (nn_file.h).
 */
#include "fuzz_common.h"
#include "zoomorph/nn.h"
#include "zoomorph/nn_file.h"

static zm_net *g_net;
static float *g_params, *g_state;

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
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const char *path = fuzz_write_file(data, n, ".h5");
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
