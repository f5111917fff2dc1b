// The commented example configuration printed by `monami config example` (validated by the unit tests).

export const EXAMPLE_CONFIG = `// monami device configuration (JSON with comments). Validate with: monami config validate FILE
// Units are in the field names (…Ms, …Seconds, …Bytes, …Mbps). Omitted fields take their defaults.
// Secrets are never written inline: give a reference, { "ref": "file:/path" } or { "ref": "env:NAME" }.
{
  "device": {
    "id": "bus-0042",                 // MQTT client id and topic segment
    "site": "depot-north"
  },

  // Uplinks, one per interface. Lower priority is preferred; weight shares a tier.
  "uplinks": [
    {
      "id": "lte1",
      "driver": { "kind": "cellular", "interface": "wwan0", "modemDevice": "/dev/cdc-wdm0", "apn": "internet",
                  "simPin": { "ref": "file:/etc/monami/sim-pin" } },
      "priority": 10,
      "costPerMegabyte": 0.02,
      "probeIntervalMs": 5000,
      "probeTimeoutMs": 2000
    },
    {
      "id": "wifi",
      "driver": { "kind": "wifi", "interface": "wlan0", "ssid": "depot", "psk": { "ref": "file:/etc/monami/wifi-psk" } },
      "priority": 5
    }
  ],

  // Uplink selection: hysteresis bands (failure above, recovery below), dwell time and a flap budget.
  "selection": {
    "policy": "priority",             // priority | lowest-rtt | weighted | cost-aware
    "failureRttMs": 1000, "recoveryRttMs": 500,
    "failureLossPercent": 40, "recoveryLossPercent": 10,
    "downCount": 3, "upCount": 5,
    "minimumDwellMs": 10000,
    "maxSwitchesPerWindow": 6, "switchWindowSeconds": 300
  },

  // IPsec towards the home agent.
  "ipsec": {
    // simultaneous (RFC 5648 §9.3, the default) | primary | per-coa | mobike | auth-option | bypass-flows (see docs/modes.md)
    "multiCoaMode": "simultaneous",
    "auth": { "method": "psk", "psk": { "ref": "file:/etc/monami/ike-psk" } },
    "remoteId": "ha.example.net",
    "ike": { "proposals": ["aes256gcm16-prfsha256-x25519"], "lifetimeSeconds": 86400, "rekeyMarginSeconds": 540 },
    "esp": { "proposals": ["aes256gcm16"], "lifetimeSeconds": 3600, "rekeyMarginSeconds": 300, "replayWindowPackets": 1024 }
  },

  // NEMO (RFC 3963) registration with the home agent.
  "mobility": {
    "mode": "explicit",               // explicit: send Mobile Network Prefix options; implicit: send none
    "homeAddress": "2001:db8:0:1::42",
    "homePrefixLength": 64,
    "homeAgent": "2001:db8:0:1::1",
    "mobileNetworkPrefixes": ["2001:db8:42::/48"],
    "bindingLifetimeSeconds": 600,    // a multiple of 4 (RFC 6275 §6.1.7)
    "keyManagementMobility": true     // the K bit
  },

  // Fleet link.
  "mqtt": {
    "url": "mqtts://fleet.example.net:8883",
    "username": "bus-0042",
    "password": { "ref": "file:/etc/monami/mqtt-password" },
    "tls": { "caFile": "/etc/monami/fleet-ca.pem" },
    "keepaliveSeconds": 45,           // below carrier-NAT idle timeouts
    "sessionExpirySeconds": 86400,
    "topicPrefix": "monami",
    "reconnect": { "initialDelayMs": 1000, "maxDelayMs": 60000, "multiplier": 2, "jitterRatio": 0.5 }
  },

  "telemetry": {
    "intervalSeconds": 60,            // durable snapshots, QoS 1, kept in the outbox while offline
    "metricsIntervalMs": 5000,        // high-rate link metrics, QoS 0, dropped while offline
    "include": { "links": true, "bindings": true, "securityAssociations": true, "decisions": true, "system": true },
    "outbox": { "path": "/var/lib/monami/outbox.db", "maxBytes": 4194304 }
  },

  "ota": {
    // Remote configuration: applied, watched for watchSeconds, then committed or rolled back.
    "config": { "watchSeconds": 60, "healthChecks": ["broker", "home-agent", "bindings"], "requireSignature": false },
    "image": { "publicKeyFile": "/etc/monami/ota-signing.pub", "allowOnCellular": false }
  },

  // Local status socket for technicians (monami status); only root and this group may open it.
  "control": { "socketPath": "/run/monami/control.sock", "group": "monami" }
}
`;
