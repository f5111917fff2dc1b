// Which responder task serves a request: by exchange type and the payloads it carries (RFC 7296 §1.3–1.5, RFC 4555).

import type { Payload } from "../../wire/ikev2/payloads.ts";
import { ExchangeType, NotifyType, ProtocolId } from "../constants.ts";
import type { IkeSa } from "../ike-sa.ts";
import type { PeerDirectory } from "../peers.ts";
import { notifies, type ResponderTask } from "../task.ts";
import { ChildCreateResponder } from "./child-create.ts";
import { ChildRekeyResponder } from "./child-rekey.ts";
import { DeleteResponder } from "./delete.ts";
import { IkeAuthResponder } from "./ike-auth.ts";
import { IkeRekeyResponder } from "./ike-rekey.ts";
import { InformationalResponder } from "./liveness.ts";
import { MobikeResponder } from "./mobike.ts";

const mobikeNotifies = [NotifyType.updateSaAddresses, NotifyType.cookie2, NotifyType.additionalIp4Address, NotifyType.additionalIp6Address, NotifyType.noAdditionalAddresses];

/** The responder task for a request, or the error notify type to answer with; `peers` selects per-peer policy in IKE_AUTH. */
export function responderFor(sa: IkeSa, exchange: number, payloads: readonly Payload[], peers?: PeerDirectory): ResponderTask | number {
  switch (exchange) {
    case ExchangeType.ikeAuth:
      return new IkeAuthResponder(peers);
    case ExchangeType.createChildSa: {
      if (sa.state !== "established") return NotifyType.temporaryFailure;
      if (notifies(payloads, NotifyType.rekeySa).length > 0) return new ChildRekeyResponder();
      const saPayload = payloads.find((p) => p.kind === "sa");
      if (saPayload && saPayload.kind === "sa" && saPayload.proposals[0]?.protocolId === ProtocolId.ike) return new IkeRekeyResponder();
      return new ChildCreateResponder();
    }
    case ExchangeType.informational:
      if (payloads.some((p) => p.kind === "delete")) return new DeleteResponder();
      if (mobikeNotifies.some((t) => notifies(payloads, t).length > 0)) return new MobikeResponder();
      return new InformationalResponder();
    default:
      return NotifyType.invalidSyntax;
  }
}
