// Who is on duty and where: the signed-in officer (GET /officers/me), the gates they serve, the gate chosen.

import * as api from "./api.js";

const GATE = "smartgate.console.gate";
let officer = null;
let allGates = null;

/** What each role may do (functions/api: domain/officers.py PERMISSIONS); the API decides, this only
 * spares an officer buttons that would be refused. */
const PERMISSIONS = {
  customs: ["release", "hold", "inspect", "correct_plate"],
  border_guard: ["hold", "correct_plate"],
  quarantine: ["hold", "sample"],
  supervisor: ["release", "hold", "inspect", "sample", "correct_plate"],
};
export const ACTIONS = ["release", "hold", "inspect", "sample", "correct_plate"];

export async function loadOfficer(force = false) {
  if (!officer || force) officer = await api.officer();
  return officer;
}

export const currentOfficer = () => officer;

export function forget() {
  officer = null;
  sessionStorage.removeItem(GATE);
}

export function may(action) {
  return (officer?.roles || []).some((r) => (PERMISSIONS[r] || []).includes(action));
}

/** The gates this officer serves, as GET /gates describes them (name, time zone). */
export async function servedGates() {
  allGates ??= await api.gates().catch((err) => {
    allGates = null;
    throw err;
  });
  const me = await loadOfficer();
  const served = new Set(me.gates);
  return allGates.filter((g) => served.has("*") || served.has(g.gate_id));
}

export async function gateInfo(gateId) {
  const found = (await servedGates()).find((g) => g.gate_id === gateId);
  return found || { gate_id: gateId, name: gateId, timezone: "UTC" };
}

export const chosenGate = () => sessionStorage.getItem(GATE);
export const chooseGate = (gateId) => sessionStorage.setItem(GATE, gateId);
