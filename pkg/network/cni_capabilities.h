/* What a pod asks of the network, as CNI capability arguments
 * (runtimeConfig): portMappings (PodSandboxConfig port mappings with a host
 * port, for portmap), dns (the DNSConfig), bandwidth (the kubelet's
 * kubernetes.io/ingress-bandwidth and egress-bandwidth annotations) and ips
 * (crisp's cni.crisp.dev/ips annotation). A plugin receives only those it
 * declares in its "capabilities". Also the CNI_ARGS the kubelet's runtimes
 * pass (K8S_POD_NAME and friends). */
#pragma once

#include <jansson.h>

#include "api.pb-c.h"
#include "util/err.h"

#define CRISP_CNI_IPS_ANNOTATION "cni.crisp.dev/ips"

/* Every capability value the pod has, as one object; INVALID_ARGUMENT for a
 * malformed annotation or port. */
int crisp_cni_capabilities(const Runtime__V1__PodSandboxConfig *config, json_t **out,
                           struct crisp_err *err);

/* The runtimeConfig for one plugin: the values of the capabilities it
 * declares; NULL when it declares none the pod has. */
json_t *crisp_cni_runtime_config(const json_t *plugin, const json_t *capabilities);

/* CNI_ARGS: IgnoreUnknown=1;K8S_POD_NAMESPACE=..;K8S_POD_NAME=..;
 * K8S_POD_INFRA_CONTAINER_ID=..;K8S_POD_UID=.. INVALID_ARGUMENT when a
 * value holds ';' or '=' (it would inject arguments). */
int crisp_cni_args(const Runtime__V1__PodSandboxConfig *config, const char *pod_id, char **out,
                   struct crisp_err *err);

/* A Kubernetes quantity ("10M", "1Gi", "500k", "1000") as an integer. */
int crisp_cni_parse_quantity(const char *text, long long *out);
