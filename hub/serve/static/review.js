// Clerical review: one uncertain pair at a time, both records side by side with the matcher's evidence.
let queue = [];

function fieldsOf(pair) {
  return Object.keys(pair).filter((k) => k.endsWith("_l") && (k.slice(0, -2) + "_r") in pair)
    .map((k) => k.slice(0, -2)).filter((f) => !["silo", "source_record_id"].includes(f));
}

function showPair() {
  const section = document.getElementById("pair");
  document.getElementById("queue-count").textContent = `${queue.length} pair(s) waiting`;
  if (!queue.length) { section.hidden = true; Hub.status("The queue is empty."); return; }
  const pair = queue[0];
  const table = document.getElementById("pair-table");
  table.replaceChildren(Hub.el("tr", {}, Hub.el("th", {}, "field"),
    Hub.el("th", {}, `${pair.silo_l} ${pair.source_record_id_l}`),
    Hub.el("th", {}, `${pair.silo_r} ${pair.source_record_id_r}`), Hub.el("th", {}, "evidence (log2 BF)")));
  for (const field of fieldsOf(pair)) {
    const bf = pair[`bf_${field}`];
    const cls = typeof bf === "number" ? (bf >= 0 ? "bf-pos" : "bf-neg") : "";
    table.append(Hub.el("tr", { "data-field": field }, Hub.el("th", {}, field),
      Hub.el("td", {}, pair[`${field}_l`] ?? "—"), Hub.el("td", {}, pair[`${field}_r`] ?? "—"),
      Hub.el("td", { class: cls }, typeof bf === "number" ? bf.toFixed(2) : "")));
  }
  Hub.status(`match probability ${Number(pair.match_probability).toFixed(3)} — ${pair.reason || ""}`);
  section.hidden = false;
  section.dataset.pairId = pair.pair_id;
}

async function loadQueue() {
  try {
    const result = await Hub.call("GET", "/review/queue?limit=50");
    queue = result.pairs;
    showPair();
  } catch (error) { Hub.status(error.message, true); }
}

async function decide(decision) {
  const pair = queue[0];
  if (!pair) return;
  try {
    await Hub.call("POST", "/review/decisions",
      { pair_id: pair.pair_id, decision, note: document.getElementById("note").value || null });
    queue.shift();
    document.getElementById("note").value = "";
    showPair();
  } catch (error) { Hub.status(error.message, true); }
}

Hub.wireKeyForm();
document.getElementById("load-queue").addEventListener("click", loadQueue);
document.querySelectorAll("button[data-decision]").forEach((b) => b.addEventListener("click", () => decide(b.dataset.decision)));
