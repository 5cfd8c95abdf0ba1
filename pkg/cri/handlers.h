/* CRI handler functions, one group per file (see handlers.c for the table). */
#pragma once

#include "server/server.h"

#define CRI_UNARY(name)                                                                            \
    int name(struct crisp_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp,        \
             struct crisp_err *err)

/* runtime_info.c */
CRI_UNARY(cri_version);
CRI_UNARY(cri_status);
CRI_UNARY(cri_runtime_config);
/* runtime_config.c */
CRI_UNARY(cri_update_runtime_config);
/* image_service.c */
CRI_UNARY(cri_list_images);
CRI_UNARY(cri_image_status);
CRI_UNARY(cri_pull_image);
CRI_UNARY(cri_remove_image);
CRI_UNARY(cri_image_fs_info);
int cri_stream_images(struct crisp_call *call, const ProtobufCMessage *req, struct crisp_err *err);
/* pod_service.c */
CRI_UNARY(cri_run_pod_sandbox);
CRI_UNARY(cri_stop_pod_sandbox);
CRI_UNARY(cri_remove_pod_sandbox);
CRI_UNARY(cri_pod_sandbox_status);
CRI_UNARY(cri_list_pod_sandbox);
int cri_stream_pod_sandboxes(struct crisp_call *call, const ProtobufCMessage *req,
                             struct crisp_err *err);
/* container_service.c */
CRI_UNARY(cri_create_container);
CRI_UNARY(cri_start_container);
CRI_UNARY(cri_stop_container);
CRI_UNARY(cri_remove_container);
CRI_UNARY(cri_container_status);
CRI_UNARY(cri_list_containers);
CRI_UNARY(cri_exec_sync);
CRI_UNARY(cri_reopen_container_log);
/* update_service.c */
CRI_UNARY(cri_update_container_resources);
CRI_UNARY(cri_update_pod_sandbox_resources);
int cri_stream_containers(struct crisp_call *call, const ProtobufCMessage *req,
                          struct crisp_err *err);
/* stream_service.c */
CRI_UNARY(cri_exec);
CRI_UNARY(cri_attach);
CRI_UNARY(cri_port_forward);
/* stats_service.c */
CRI_UNARY(cri_container_stats_rpc);
CRI_UNARY(cri_list_container_stats);
CRI_UNARY(cri_pod_sandbox_stats);
CRI_UNARY(cri_list_pod_sandbox_stats);
int cri_stream_container_stats(struct crisp_call *call, const ProtobufCMessage *req,
                               struct crisp_err *err);
int cri_stream_pod_sandbox_stats(struct crisp_call *call, const ProtobufCMessage *req,
                                 struct crisp_err *err);
/* events_service.c */
int cri_get_container_events(struct crisp_call *call, const ProtobufCMessage *req,
                             struct crisp_err *err);
/* pod_metrics.c */
CRI_UNARY(cri_list_metric_descriptors);
CRI_UNARY(cri_list_pod_sandbox_metrics);
int cri_stream_pod_sandbox_metrics(struct crisp_call *call, const ProtobufCMessage *req,
                                   struct crisp_err *err);
/* checkpoint.c */
CRI_UNARY(cri_checkpoint_container);
