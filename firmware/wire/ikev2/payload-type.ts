// IKEv2 payload type numbers (IANA "IKEv2 Payload Types"; RFC 7296 §3.2, RFC 7383 §2.5).

export const PayloadType = {
  none: 0,
  securityAssociation: 33,
  keyExchange: 34,
  identificationInitiator: 35,
  identificationResponder: 36,
  certificate: 37,
  certificateRequest: 38,
  authentication: 39,
  nonce: 40,
  notify: 41,
  delete: 42,
  vendorId: 43,
  trafficSelectorInitiator: 44,
  trafficSelectorResponder: 45,
  encrypted: 46,
  configuration: 47,
  eap: 48,
  encryptedFragment: 53,
} as const;
export type PayloadTypeNumber = (typeof PayloadType)[keyof typeof PayloadType];

/** Short names as strongSwan and Wireshark print them, for logs and errors. */
export const payloadTypeName: Readonly<Record<number, string>> = {
  33: "SA",
  34: "KE",
  35: "IDi",
  36: "IDr",
  37: "CERT",
  38: "CERTREQ",
  39: "AUTH",
  40: "Nonce",
  41: "N",
  42: "D",
  43: "V",
  44: "TSi",
  45: "TSr",
  46: "SK",
  47: "CP",
  48: "EAP",
  53: "SKF",
};
