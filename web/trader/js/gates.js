// The gates a trader can book (GET /gates), loaded once per page load.

import * as api from "./api.js";

let loaded = null;

export function gates() {
  loaded ??= api.gates().catch((err) => {
    loaded = null;
    throw err;
  });
  return loaded;
}

export async function gate(gateId) {
  return (await gates()).find((g) => g.gate_id === gateId) || { gate_id: gateId, name: gateId, timezone: "UTC" };
}
