#pragma once

// Objects as a v1.30 API server serves them (GET .../services/web -o json), trimmed only of
// status fields nobody reads. IP plan: ClusterIPs 10.96.0.0/16 and fd00:96::/112, pods
// 10.244.0.0/16, nodes 192.168.1.0/24, load balancer 203.0.113.0/24.
namespace kpx::testing {

inline constexpr char kWebService[] = R"json({
  "kind": "Service",
  "apiVersion": "v1",
  "metadata": {
    "name": "web",
    "namespace": "default",
    "uid": "6a1c2f7e-3b7d-4c59-9d1e-2f0f5d1e8a11",
    "resourceVersion": "48213",
    "creationTimestamp": "2024-05-02T09:14:03Z",
    "labels": {"app": "web"},
    "annotations": {
      "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"v1\",\"kind\":\"Service\"}\n",
      "team": "frontend"
    },
    "managedFields": [{
      "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
      "time": "2024-05-02T09:14:03Z", "fieldsType": "FieldsV1",
      "fieldsV1": {"f:spec": {"f:ports": {".": {}, "k:{\"port\":80,\"protocol\":\"TCP\"}": {}}}}
    }]
  },
  "spec": {
    "ports": [
      {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
      {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https"}
    ],
    "selector": {"app": "web"},
    "clusterIP": "10.96.12.34",
    "clusterIPs": ["10.96.12.34"],
    "type": "ClusterIP",
    "sessionAffinity": "None",
    "ipFamilies": ["IPv4"],
    "ipFamilyPolicy": "SingleStack",
    "internalTrafficPolicy": "Cluster"
  },
  "status": {"loadBalancer": {}}
})json";

inline constexpr char kLoadBalancerService[] = R"json({
  "kind": "Service",
  "apiVersion": "v1",
  "metadata": {
    "name": "shop",
    "namespace": "store",
    "uid": "0b3e9a52-5d0e-4f55-8a7e-77f3c1d0e6b2",
    "resourceVersion": "91877",
    "creationTimestamp": "2024-05-03T11:02:44Z",
    "labels": {"app": "shop"},
    "annotations": {"metallb.universe.tf/ip-allocated-from-pool": "public"},
    "finalizers": ["service.kubernetes.io/load-balancer-cleanup"]
  },
  "spec": {
    "ports": [
      {"name": "http", "protocol": "TCP", "appProtocol": "http", "port": 80, "targetPort": 8080, "nodePort": 31080},
      {"name": "quic", "protocol": "UDP", "port": 443, "targetPort": 8443, "nodePort": 31443}
    ],
    "selector": {"app": "shop"},
    "clusterIP": "10.96.40.2",
    "clusterIPs": ["10.96.40.2", "fd00:96::40:2"],
    "type": "LoadBalancer",
    "sessionAffinity": "ClientIP",
    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}},
    "externalIPs": ["198.51.100.7"],
    "loadBalancerSourceRanges": ["203.0.113.0/24", " 10.0.0.0/8 "],
    "externalTrafficPolicy": "Local",
    "healthCheckNodePort": 32001,
    "ipFamilies": ["IPv4", "IPv6"],
    "ipFamilyPolicy": "PreferDualStack",
    "allocateLoadBalancerNodePorts": true,
    "internalTrafficPolicy": "Local",
    "trafficDistribution": "PreferClose"
  },
  "status": {
    "loadBalancer": {
      "ingress": [
        {"ip": "203.0.113.10", "ipMode": "VIP", "ports": [{"port": 80, "protocol": "TCP"}]},
        {"ip": "203.0.113.11"},
        {"ip": "203.0.113.12", "ipMode": "Proxy"},
        {"hostname": "shop.lb.example.com"}
      ]
    },
    "conditions": [{"type": "LoadBalancerReady", "status": "True", "lastTransitionTime": "2024-05-03T11:03:01Z", "reason": "Ready", "message": ""}]
  }
})json";

inline constexpr char kWebSlice[] = R"json({
  "kind": "EndpointSlice",
  "apiVersion": "discovery.k8s.io/v1",
  "metadata": {
    "name": "web-7x2kq",
    "generateName": "web-",
    "namespace": "default",
    "uid": "c7d0f3a1-8f0c-4b8e-9a52-d2b7f6a4e901",
    "resourceVersion": "48250",
    "generation": 3,
    "creationTimestamp": "2024-05-02T09:14:03Z",
    "labels": {
      "app": "web",
      "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
      "kubernetes.io/service-name": "web"
    },
    "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2024-05-02T09:15:11Z"},
    "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web",
      "uid": "6a1c2f7e-3b7d-4c59-9d1e-2f0f5d1e8a11", "controller": true, "blockOwnerDeletion": true}]
  },
  "addressType": "IPv4",
  "endpoints": [
    {
      "addresses": ["10.244.1.5"],
      "conditions": {"ready": true, "serving": true, "terminating": false},
      "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-5d8f9c7b4-abcde", "uid": "1e0f2c4d-0000-4000-8000-000000000001"},
      "nodeName": "node-a",
      "zone": "zone-a",
      "hints": {"forZones": [{"name": "zone-a"}]}
    },
    {
      "addresses": ["10.244.2.7"],
      "conditions": {"ready": false, "serving": true, "terminating": true},
      "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-5d8f9c7b4-fghij", "uid": "1e0f2c4d-0000-4000-8000-000000000002"},
      "nodeName": "node-b",
      "zone": "zone-b",
      "hints": {"forZones": [{"name": "zone-b"}, {"name": "zone-c"}]}
    },
    {
      "addresses": ["10.244.3.9"],
      "conditions": {},
      "nodeName": "node-c"
    }
  ],
  "ports": [
    {"name": "http", "protocol": "TCP", "port": 8080},
    {"name": "https", "protocol": "TCP", "port": 8443, "appProtocol": "https"}
  ]
})json";

inline constexpr char kNode[] = R"json({
  "kind": "Node",
  "apiVersion": "v1",
  "metadata": {
    "name": "node-a",
    "uid": "5f4c7a1b-2d3e-4f50-8a9b-0c1d2e3f4a5b",
    "resourceVersion": "77120",
    "creationTimestamp": "2024-04-30T08:00:00Z",
    "labels": {
      "kubernetes.io/arch": "amd64",
      "kubernetes.io/hostname": "node-a",
      "kubernetes.io/os": "linux",
      "node-role.kubernetes.io/control-plane": "",
      "topology.kubernetes.io/zone": "zone-a"
    },
    "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}
  },
  "spec": {
    "podCIDR": "10.244.1.0/24",
    "podCIDRs": ["10.244.1.0/24", "fd00:244:1::/64"],
    "providerID": "kind://docker/kind/node-a",
    "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
  },
  "status": {
    "capacity": {"cpu": "8", "memory": "32792720Ki", "pods": "110"},
    "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2024-05-03T12:00:00Z",
      "lastTransitionTime": "2024-04-30T08:01:00Z", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
    "addresses": [
      {"type": "InternalIP", "address": "192.168.1.10"},
      {"type": "InternalIP", "address": "fd00:192:168:1::10"},
      {"type": "ExternalIP", "address": "203.0.113.50"},
      {"type": "Hostname", "address": "node-a"}
    ],
    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
    "nodeInfo": {"kubeletVersion": "v1.30.0", "kubeProxyVersion": "v1.30.0", "osImage": "Debian GNU/Linux 12 (bookworm)"}
  }
})json";

}  // namespace kpx::testing
