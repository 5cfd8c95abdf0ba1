/* The dispatch table: which CRI methods crisp implements. Every other method
 * of the two services answers UNIMPLEMENTED through the server. */
#include "cri/handlers.h"

#include "api.pb-c.h"
#include "cri/runtime.h"

const ProtobufCServiceDescriptor *const crisp_cri_services[] = {
    &runtime__v1__runtime_service__descriptor,
    &runtime__v1__image_service__descriptor,
};
const size_t crisp_cri_n_services = sizeof(crisp_cri_services) / sizeof(crisp_cri_services[0]);

const struct crisp_handler crisp_cri_handlers[] = {
    {.method = "Version", .unary = cri_version, .inline_ok = true},
    {.method = "Status", .unary = cri_status, .inline_ok = true},
    {.method = "RuntimeConfig", .unary = cri_runtime_config, .inline_ok = true},
    {.method = "UpdateRuntimeConfig", .unary = cri_update_runtime_config},
    {.method = "RunPodSandbox", .unary = cri_run_pod_sandbox},
    {.method = "StopPodSandbox", .unary = cri_stop_pod_sandbox},
    {.method = "RemovePodSandbox", .unary = cri_remove_pod_sandbox},
    {.method = "PodSandboxStatus", .unary = cri_pod_sandbox_status},
    {.method = "ListPodSandbox", .unary = cri_list_pod_sandbox},
    {.method = "StreamPodSandboxes", .stream = cri_stream_pod_sandboxes},
    {.method = "CreateContainer", .unary = cri_create_container},
    {.method = "StartContainer", .unary = cri_start_container},
    {.method = "StopContainer", .unary = cri_stop_container},
    {.method = "RemoveContainer", .unary = cri_remove_container},
    {.method = "ContainerStatus", .unary = cri_container_status},
    {.method = "ListContainers", .unary = cri_list_containers},
    {.method = "StreamContainers", .stream = cri_stream_containers},
    {.method = "ExecSync", .unary = cri_exec_sync},
    {.method = "ReopenContainerLog", .unary = cri_reopen_container_log},
    {.method = "Exec", .unary = cri_exec},
    {.method = "Attach", .unary = cri_attach},
    {.method = "PortForward", .unary = cri_port_forward},
    {.method = "ContainerStats", .unary = cri_container_stats_rpc},
    {.method = "ListContainerStats", .unary = cri_list_container_stats},
    {.method = "StreamContainerStats", .stream = cri_stream_container_stats},
    {.method = "PodSandboxStats", .unary = cri_pod_sandbox_stats},
    {.method = "ListPodSandboxStats", .unary = cri_list_pod_sandbox_stats},
    {.method = "StreamPodSandboxStats", .stream = cri_stream_pod_sandbox_stats},
    {.method = "GetContainerEvents", .stream = cri_get_container_events, .own_thread = true},
    {.method = "ListMetricDescriptors", .unary = cri_list_metric_descriptors},
    {.method = "ListPodSandboxMetrics", .unary = cri_list_pod_sandbox_metrics},
    {.method = "StreamPodSandboxMetrics", .stream = cri_stream_pod_sandbox_metrics},
    {.method = "CheckpointContainer", .unary = cri_checkpoint_container},
    {.method = "UpdateContainerResources", .unary = cri_update_container_resources},
    {.method = "UpdatePodSandboxResources", .unary = cri_update_pod_sandbox_resources},
    {.method = "ListImages", .unary = cri_list_images},
    {.method = "StreamImages", .stream = cri_stream_images},
    {.method = "ImageStatus", .unary = cri_image_status},
    {.method = "PullImage", .unary = cri_pull_image},
    {.method = "RemoveImage", .unary = cri_remove_image},
    {.method = "ImageFsInfo", .unary = cri_image_fs_info, .inline_ok = true},
};
const size_t crisp_cri_n_handlers = sizeof(crisp_cri_handlers) / sizeof(crisp_cri_handlers[0]);
