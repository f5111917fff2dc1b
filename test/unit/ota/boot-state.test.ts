// A/B boot state: the bootloader's choice, try-once, mark good/bad, classification, variable encoding.
import { describe, expect, test } from "bun:test";
import { chooseBoot, classifyBoot, decodeBootVariables, encodeBootVariables, factoryBootState, markBad, markGood, markTryOnce, type BootState } from "../../../ota/slots/boot-state.ts";

describe("boot state", () => {
  test("the bootloader boots the first slot with attempts left and spends one", () => {
    const s = factoryBootState();
    const c = chooseBoot(s);
    expect(c.slot).toBe("a");
    expect(c.next.left).toEqual({ a: 2, b: 0 });
    const none = chooseBoot({ order: ["a", "b"], left: { a: 0, b: 0 }, trial: undefined });
    expect(none.slot).toBeUndefined();
  });

  test("try-once boots the new slot exactly once, then falls back", () => {
    let s: BootState = markTryOnce(factoryBootState(), "b");
    expect(encodeBootVariables(s)).toEqual({ BOOT_ORDER: "B A", BOOT_A_LEFT: "3", BOOT_B_LEFT: "1", BOOT_TRIAL: "B" });
    const first = chooseBoot(s);
    expect(first.slot).toBe("b");
    expect(classifyBoot(first.next, "b")).toBe("trial");
    s = first.next;
    const second = chooseBoot(s);
    expect(second.slot).toBe("a");
    expect(classifyBoot(second.next, "a")).toBe("rolled-back");
    const good = markGood(second.next, "a");
    expect(good).toEqual({ order: ["a", "b"], left: { a: 3, b: 0 }, trial: undefined });
    expect(classifyBoot(good, "a")).toBe("normal");
  });

  test("mark bad removes all attempts and ends a trial of that slot", () => {
    const s = markBad(markTryOnce(factoryBootState(), "b"), "b");
    expect(s.left.b).toBe(0);
    expect(s.trial).toBeUndefined();
  });

  test("variables round-trip and malformed ones are refused", () => {
    const s = markTryOnce(factoryBootState(), "b");
    const back = decodeBootVariables(encodeBootVariables(s));
    expect(back.ok && back.value).toEqual(s);
    for (const bad of [
      { BOOT_ORDER: "A A", BOOT_A_LEFT: "1", BOOT_B_LEFT: "1" },
      { BOOT_ORDER: "A C", BOOT_A_LEFT: "1", BOOT_B_LEFT: "1" },
      { BOOT_ORDER: "A B", BOOT_A_LEFT: "x", BOOT_B_LEFT: "1" },
      { BOOT_ORDER: "A B", BOOT_A_LEFT: "1", BOOT_B_LEFT: "1", BOOT_TRIAL: "C" },
      {},
    ]) {
      expect(decodeBootVariables(bad).ok).toBe(false);
    }
  });
});
