// Binding Acknowledgement / Binding Error status codes with their registry texts (IANA "Mobility Parameters").

/** BA status values monami produces or acts on (RFC 6275 §6.1.8, RFC 3963 §4.2, RFC 5648 §4.4). */
export const BaStatus = {
  accepted: 0,
  acceptedPrefixDiscoveryNecessary: 1,
  mcoaNotComplete: 4,
  mcoaReturnHomeWithoutNdp: 5,
  reasonUnspecified: 128,
  administrativelyProhibited: 129,
  insufficientResources: 130,
  homeRegistrationNotSupported: 131,
  notHomeSubnet: 132,
  notHomeAgentForThisMobileNode: 133,
  duplicateAddressDetectionFailed: 134,
  sequenceNumberOutOfWindow: 135,
  expiredHomeNonceIndex: 136,
  expiredCareOfNonceIndex: 137,
  expiredNonces: 138,
  registrationTypeChangeDisallowed: 139,
  mobileRouterOperationNotPermitted: 140,
  invalidPrefix: 141,
  notAuthorizedForPrefix: 142,
  forwardingSetupFailed: 143,
  mcoaMalformed: 164,
  mcoaNonMcoaBindingExists: 165,
  mcoaProhibited: 166,
  mcoaUnknownCoa: 167,
  mcoaBulkRegistrationProhibited: 168,
  mcoaSimultaneousHomeAndForeignProhibited: 169,
  invalidCareOfAddress: 174,
} as const;
export type BaStatusCode = number;

/** Binding Error status values (RFC 6275 §6.1.9). */
export const BeStatus = {
  unknownBindingForHomeAddressOption: 1,
  unrecognizedMhType: 2,
} as const;

const baText: ReadonlyMap<number, string> = new Map([
  [0, "Binding Update accepted"],
  [1, "Accepted but prefix discovery necessary"],
  [2, "GRE key option not required"],
  [3, "GRE tunneling but TLV header not supported"],
  [4, "MCOA NOTCOMPLETE: bulk registration partly failed, see each Binding Identifier"],
  [5, "MCOA RETURNHOME WO/NDP: do not run Neighbor Discovery for the home address"],
  [6, "PBU accepted, TB ignored, settings mismatch"],
  [128, "Reason unspecified"],
  [129, "Administratively prohibited"],
  [130, "Insufficient resources"],
  [131, "Home registration not supported"],
  [132, "Not home subnet"],
  [133, "Not home agent for this mobile node"],
  [134, "Duplicate Address Detection failed"],
  [135, "Sequence number out of window"],
  [136, "Expired home nonce index"],
  [137, "Expired care-of nonce index"],
  [138, "Expired nonces"],
  [139, "Registration type change disallowed"],
  [140, "Mobile Router Operation not permitted"],
  [141, "Invalid Prefix"],
  [142, "Not Authorized for Prefix"],
  [143, "Forwarding Setup failed (prefixes missing)"],
  [144, "MIPV6-ID-MISMATCH"],
  [145, "MIPV6-MESG-ID-REQD"],
  [146, "MIPV6-AUTH-FAIL"],
  [147, "Permanent home keygen token unavailable"],
  [148, "CGA and signature verification failed"],
  [149, "Permanent home keygen token exists"],
  [150, "Non-null home nonce index expected"],
  [151, "Service authorization failed"],
  [152, "Proxy registration not enabled"],
  [153, "Not LMA for this mobile node"],
  [154, "MAG not authorized for proxy registration"],
  [155, "Not authorized for home network prefix"],
  [156, "Timestamp mismatch"],
  [157, "Timestamp lower than previously accepted"],
  [158, "Missing home network prefix option"],
  [159, "BCE/PBU prefix set do not match"],
  [160, "Missing MN identifier option"],
  [161, "Missing handoff indicator option"],
  [162, "Missing access technology type option"],
  [163, "GRE key option required"],
  [164, "MCOA MALFORMED: Binding Identifier option malformed"],
  [165, "MCOA NON-MCOA BINDING EXISTS"],
  [166, "MCOA PROHIBITED"],
  [167, "MCOA UNKNOWN COA: no record of this Binding ID"],
  [168, "MCOA BULK REGISTRATION PROHIBITED"],
  [169, "MCOA SIMULTANEOUS HOME AND FOREIGN PROHIBITED"],
  [170, "Not authorized for IPv4 mobility service"],
  [171, "Not authorized for IPv4 home address"],
  [172, "Not authorized for IPv6 mobility service"],
  [173, "Multiple IPv4 home address assignment not supported"],
  [174, "Invalid Care-of Address"],
  [175, "Invalid mobile node group identifier"],
  [176, "Reinitialize SA with HAC"],
  [177, "Not authorized for delegated MNP"],
  [178, "Requested delegated MNP in use"],
]);

const beText: ReadonlyMap<number, string> = new Map([
  [1, "Unknown binding for Home Address destination option"],
  [2, "Unrecognized MH Type value"],
]);

/** RFC 6275 §6.1.8: values below 128 mean the Binding Update was accepted. */
export function isAccepted(status: BaStatusCode): boolean {
  return status < 128;
}

/** The registry text of a BA (or BID option) status value. */
export function baStatusText(status: BaStatusCode): string {
  return baText.get(status) ?? (status < 128 ? `Unassigned success code ${status}` : `Unassigned rejection code ${status}`);
}

/** The text of a Binding Error status value. */
export function beStatusText(status: number): string {
  return beText.get(status) ?? `Unassigned Binding Error status ${status}`;
}
