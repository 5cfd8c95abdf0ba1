/* crispd: the crisp CRI daemon. Parses the command line and the config, then
 * serves CRI v1 until SIGTERM/SIGINT. Exit codes: 0 clean stop, 1 runtime
 * failure, 2 bad usage or configuration. */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "check/check.h"
#include "config/config.h"
#include "cri/runtime.h"
#include "events/events.h"
#include "server/server.h"
#include "util/cleanup.h"
#include "util/log.h"

#ifndef CRISP_VERSION
#define CRISP_VERSION "unknown"
#endif

#define EXIT_USAGE 2

static const char usage_text[] =
    "Usage: crispd [OPTIONS] [COMMAND]\n"
    "\n"
    "crisp is a Kubernetes container runtime: crispd serves the CRI v1 gRPC API\n"
    "(RuntimeService and ImageService) to the kubelet and crictl on a unix socket.\n"
    "\n"
    "Commands:\n"
    "  (none)               serve until SIGTERM or SIGINT\n"
    "  config               print the effective configuration as JSON and exit\n"
    "  check                verify this node before starting crispd: overlayfs, namespaces,\n"
    "                       seccomp, openat2, cgroup controllers and driver, CNI config\n"
    "                       (/etc/cni/net.d) and plugins (/opt/cni/bin, /usr/lib/cni), the\n"
    "                       root and state dirs, the socket; prints ok or MISSING and how\n"
    "                       to fix it for each item (paths: see docs/install.md)\n"
    "\n"
    "Options (override the config file):\n"
    "  --config FILE        main config file (default " CRISP_DEFAULT_CONFIG_PATH "); drop-ins\n"
    "                       are read from FILE without .json plus .d/*.json, in name order\n"
    "  --listen PATH        CRI unix socket (default /run/crisp/crisp.sock)\n"
    "  --root DIR           persistent data: images, layers (default /var/lib/crisp)\n"
    "  --state DIR          volatile data: pods, containers (default /run/crisp)\n"
    "  --log-level LEVEL    error, warn, info or debug (default info)\n"
    "  --version            print the version and exit\n"
    "  --help               print this help and exit\n"
    "\n"
    "Every config key is described in docs/config.md. Exit status: 0 after a clean\n"
    "stop, 1 when serving fails, 2 for bad usage or configuration; check: 0 when\n"
    "every item is ok, 1 when something is missing.\n";

struct cli {
    const char *config_path;
    bool config_required;
    const char *command;
    /* flag overrides, applied after the files, in order */
    const char *keys[16];
    const char *values[16];
    int n_overrides;
};

enum { OPT_CONFIG = 256, OPT_LISTEN, OPT_ROOT, OPT_STATE, OPT_LOG_LEVEL, OPT_VERSION, OPT_HELP };

static const struct option long_options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"root", required_argument, NULL, OPT_ROOT},
    {"state", required_argument, NULL, OPT_STATE},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void add_override(struct cli *cli, const char *key, const char *value)
{
    if (cli->n_overrides < (int)(sizeof(cli->keys) / sizeof(cli->keys[0]))) {
        cli->keys[cli->n_overrides] = key;
        cli->values[cli->n_overrides++] = value;
    }
}

/* Returns -1 to continue, or an exit status. */
static int parse_cli(int argc, char **argv, struct cli *cli)
{
    cli->config_path = CRISP_DEFAULT_CONFIG_PATH;
    int opt;
    while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (opt) {
        case OPT_CONFIG:
            cli->config_path = optarg;
            cli->config_required = true;
            break;
        case OPT_LISTEN:
            add_override(cli, "listen", optarg);
            break;
        case OPT_ROOT:
            add_override(cli, "root", optarg);
            break;
        case OPT_STATE:
            add_override(cli, "state", optarg);
            break;
        case OPT_LOG_LEVEL:
            add_override(cli, "log_level", optarg);
            break;
        case OPT_VERSION:
            printf("crispd %s (CRI v1)\n", CRISP_VERSION);
            return EXIT_SUCCESS;
        case OPT_HELP:
            fputs(usage_text, stdout);
            return EXIT_SUCCESS;
        default:
            fputs("Try 'crispd --help'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        cli->command = argv[optind++];
    if (optind < argc || (cli->command && strcmp(cli->command, "config") != 0 &&
                          strcmp(cli->command, "check") != 0)) {
        fprintf(stderr,
                "crispd: unexpected argument '%s', expected no command, 'config' or 'check'\n",
                optind < argc ? argv[optind] : cli->command);
        return EXIT_USAGE;
    }
    return -1;
}

static int load_config(const struct cli *cli, struct crisp_config *cfg)
{
    struct crisp_err err;
    crisp_config_init(cfg);
    int r = crisp_config_load(cfg, cli->config_path, cli->config_required, &err);
    for (int i = 0; r == 0 && i < cli->n_overrides; i++)
        r = crisp_config_set_flag(cfg, cli->keys[i], cli->values[i], &err);
    if (r < 0)
        fprintf(stderr, "crispd: %s\n", err.msg);
    return r;
}

static int print_config(const struct crisp_config *cfg)
{
    _cleanup_json_ json_t *doc = crisp_config_to_json(cfg);
    return json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 &&
                   fputc('\n', stdout) != EOF
               ? EXIT_SUCCESS
               : EXIT_FAILURE;
}

static int check_node(const struct crisp_config *cfg)
{
    struct crisp_check_paths paths;
    crisp_check_paths_default(&paths, cfg);
    crisp_check_paths_from_env(&paths);
    int missing = crisp_check_run(&paths, stdout);
    crisp_check_paths_free(&paths);
    return missing ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Blocks the stop signals in every thread (grpc's included, created later)
 * so that only sigwait in main sees them. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int serve(const struct crisp_config *cfg)
{
    sigset_t stop_signals;
    block_signals(&stop_signals);
    struct crisp_err err;
    struct crisp_runtime rt;
    if (crisp_runtime_init(&rt, cfg, &err) < 0) {
        log_error("crispd", "%s", err.msg);
        crisp_runtime_free(&rt);
        return EXIT_FAILURE;
    }
    struct crisp_server_options opts = {
        .socket_path = cfg->listen,
        .workers = cfg->workers,
        .max_recv_message_size = cfg->max_recv_message_size,
        .shutdown_timeout_seconds = cfg->shutdown_timeout_seconds,
        .services = crisp_cri_services,
        .n_services = crisp_cri_n_services,
        .handlers = crisp_cri_handlers,
        .n_handlers = crisp_cri_n_handlers,
        .app = &rt,
    };
    if (crisp_stream_server_start(cfg, &rt.ctr_env, &rt.stream, &err) < 0) {
        log_error("crispd", "%s", err.msg);
        crisp_runtime_free(&rt);
        return EXIT_FAILURE;
    }
    struct crisp_server *srv = NULL;
    if (crisp_server_start(&opts, &srv, &err) < 0) {
        log_error("crispd", "%s", err.msg);
        crisp_stream_server_stop(rt.stream);
        crisp_runtime_free(&rt);
        return EXIT_FAILURE;
    }
    log_info("crispd", "crisp %s ready (root %s, state %s)", CRISP_VERSION, cfg->root, cfg->state);
    sd_notify(0, "READY=1");
    int sig = 0;
    sigwait(&stop_signals, &sig);
    log_info("crispd", "received %s, stopping", strsignal(sig));
    sd_notify(0, "STOPPING=1");
    crisp_events_stop(); /* event streams end now instead of holding the shutdown */
    crisp_server_stop(srv);
    crisp_stream_server_stop(rt.stream); /* after the gRPC calls that hand out its URLs */
    crisp_runtime_free(&rt);
    return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
    struct cli cli = {0};
    int status = parse_cli(argc, argv, &cli);
    if (status >= 0)
        return status;
    struct crisp_config cfg;
    if (load_config(&cli, &cfg) < 0) {
        crisp_config_free(&cfg);
        return EXIT_USAGE;
    }
    crisp_log_set_level(cfg.log_level);
    if (!cli.command)
        status = serve(&cfg);
    else if (strcmp(cli.command, "check") == 0)
        status = check_node(&cfg);
    else
        status = print_config(&cfg);
    crisp_config_free(&cfg);
    return status;
}
