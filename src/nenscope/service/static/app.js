// The nenscope viewer: study list and upload, analysis jobs, fused PET/CT with lesion
// outlines, the lesion table with review decisions, the impression and sign-off.

import { api, el, setToken, token, upload } from "./api.js";
import { FusedViewer } from "./viewer.js";

const $ = (id) => document.getElementById(id);
const fmt = (v, digits = 1) => (v === null || v === undefined ? "—" : Number(v).toFixed(digits));
const state = { user: null, studies: [], study: null, analysis: null, review: null, poll: null };
const viewer = new FusedViewer($("gl"), $("mip"), showLocation);
window.nenscope = { state, viewer }; // for the end-to-end test and the console

function say(text) {
  $("message").textContent = text || "";
}

async function guarded(action) {
  try {
    say("");
    await action();
  } catch (err) {
    say(err.message);
  }
}

function showLocation(loc) {
  const [x, y, z] = viewer.crosshairLps();
  const suv = loc?.values?.[viewer.suvIndex]?.value;
  $("location").textContent = `LPS ${x.toFixed(1)}, ${y.toFixed(1)}, ${z.toFixed(1)} mm` + (suv === undefined ? "" : ` — SUV ${suv.toFixed(2)}`);
}

// ---- sign-in -------------------------------------------------------------------------------
async function signIn() {
  state.user = await api("/api/me");
  $("whoami").textContent = `${state.user.name} (${state.user.role})`;
  await loadStudies();
}

// ---- studies and analyses ------------------------------------------------------------------
async function loadStudies() {
  state.studies = await api("/api/studies");
  const rows = state.studies.map((s) => {
    const last = s.analyses[s.analyses.length - 1];
    return el("tr", { "data-study-id": s.id, class: state.study?.id === s.id ? "selected" : "", onclick: () => guarded(() => selectStudy(s.id)) },
      el("td", {}, String(s.id)), el("td", {}, s.patient_name || s.patient_key), el("td", {}, s.study_date || ""),
      el("td", {}, s.agent || s.modality || ""), el("td", {}, last ? `v${last.version} ${last.status}${last.signed ? " ✔" : ""}` : "—"));
  });
  $("studies").replaceChildren(...rows);
}

async function selectStudy(studyId, analysisId) {
  state.study = state.studies.find((s) => s.id === studyId) || (await api(`/api/studies/${studyId}`));
  $("analyse").disabled = false;
  const versions = state.study.analyses;
  $("versions").replaceChildren(...versions.map((a) => el("option", { value: a.id }, `version ${a.version} (${a.status})`)));
  await loadStudies();
  const chosen = analysisId ?? versions[versions.length - 1]?.id;
  if (chosen) {
    $("versions").value = chosen;
    await selectAnalysis(chosen);
  } else {
    $("status").textContent = "not analysed yet";
  }
}

async function selectAnalysis(analysisId) {
  clearTimeout(state.poll);
  const a = await api(`/api/analyses/${analysisId}`);
  state.analysis = a;
  $("status").textContent = a.status === "failed" ? `failed: ${a.error}` : `${a.status}${a.stage ? ` (${a.stage})` : ""}`;
  $("progress").value = a.progress;
  if (a.status === "queued" || a.status === "running") {
    state.poll = setTimeout(() => guarded(() => selectAnalysis(analysisId)), 1000);
    return;
  }
  await loadStudies();
  const fresh = state.studies.find((s) => s.id === a.study_id);
  if (fresh) {
    state.study = fresh;
    $("versions").replaceChildren(...fresh.analyses.map((v) => el("option", { value: v.id }, `version ${v.version} (${v.status})`)));
    $("versions").value = a.id;
  }
  if (a.status === "done") {
    const hasCt = state.study.series.some((s) => s.kind === "CT");
    await viewer.load(a.id, hasCt);
    await loadReview();
  }
}

async function analyse() {
  const a = await api(`/api/studies/${state.study.id}/analyses`, { method: "POST", body: {} });
  state.studies = await api("/api/studies");
  await selectStudy(state.study.id, a.id);
}

async function uploadFiles() {
  const files = $("files").files;
  if (!files.length) throw new Error("choose DICOM files or a zip first");
  $("upload-progress").value = 0;
  const study = await upload(files, (f) => ($("upload-progress").value = f));
  state.studies = await api("/api/studies");
  await selectStudy(study.id);
}

// ---- review -------------------------------------------------------------------------------
async function loadReview() {
  state.review = await api(`/api/analyses/${state.analysis.id}/review`);
  renderReview();
}

async function reviewCall(path, method, body, outlinesChange = true) {
  state.review = await api(`/api/analyses/${state.analysis.id}${path}`, { method, body });
  renderReview();
  if (outlinesChange) await viewer.reloadOutlines(state.analysis.id);
}

function lesionRow(row) {
  const les = row.lesion;
  const removed = row.decision === "rejected" || row.physiological;
  const canEdit = isPhysician() && !state.review.signed;
  const decide = (body) => guarded(() => reviewCall(`/review/lesions/${row.number}`, "PUT", body));
  const actions = el("td", {});
  if (canEdit && row.source === "automatic") {
    actions.append(removed
      ? el("button", { class: "small accept", type: "button", onclick: (e) => { e.stopPropagation(); decide({ decision: "accepted", physiological: false }); } }, "accept")
      : el("button", { class: "small reject", type: "button", onclick: (e) => { e.stopPropagation(); decide({ decision: "rejected" }); } }, "reject"));
  }
  if (canEdit && !row.physiological) {
    actions.append(el("button", { class: "small physio", type: "button", onclick: (e) => { e.stopPropagation(); decide({ physiological: true }); } }, "physiol."));
  }
  const site = el("input", { list: "sites", value: row.site, size: 10, disabled: !canEdit || row.source !== "automatic", onclick: (e) => e.stopPropagation(),
    onchange: (e) => decide({ site: e.target.value }) });
  return el("tr", { "data-number": row.number, class: `${row.source} ${row.decision}${row.physiological ? " physiological" : ""}`, onclick: () => viewer.jumpToLps(les.center_mm) },
    el("td", {}, String(row.number)), el("td", {}, site), el("td", { class: "num" }, fmt(les.volume_ml, 2)),
    el("td", { class: "num" }, fmt(les.suv_max)), el("td", { class: "num" }, les.krenning ?? "—"), el("td", {}, les.sstr_rads || "—"),
    el("td", {}, row.physiological ? "physiological" : row.decision), actions);
}

function renderReview() {
  const r = state.review;
  $("lesions").replaceChildren(...r.lesions.map(lesionRow));
  const before = r.automatic_summary, after = r.reviewed_summary;
  const line = (label, a, b) => el("tr", {}, el("td", {}, label), el("td", { class: "num" }, a), el("td", { class: "num" }, b));
  $("summary").replaceChildren(
    line("", "automatic", "reviewed"),
    line("lesions", before.n_lesions, after.n_lesions),
    line("SSTR-TV ml", fmt(before.sstr_tv_ml), fmt(after.sstr_tv_ml)),
    line("TL-SSTR", fmt(before.tl_sstr), fmt(after.tl_sstr)),
    line("Krenning max", before.krenning_max ?? "—", after.krenning_max ?? "—"),
    line("PRRT", String(before.prrt_eligible ?? "—"), String(after.prrt_eligible ?? "—")),
    el("tr", {}, el("td", { colspan: 3 }, after.prrt_reason || "")));
  $("impression").value = r.impression;
  const editable = isPhysician() && !r.signed;
  for (const id of ["add-at-crosshair", "save-impression", "sign"]) $(id).disabled = !editable;
  $("impression").readOnly = !editable;
  if (r.signed) showSigned();
  else $("signed").textContent = "";
}

async function showSigned() {
  const report = await api(`/api/analyses/${state.analysis.id}/report`);
  $("signed").textContent = `signed by ${report.signed_by} at ${report.signed_at} — SHA-256 ${report.sha256}`;
}

function isPhysician() {
  return state.user?.role === "physician";
}

async function addAtCrosshair() {
  await reviewCall("/review/lesions", "POST", { seed_mm: viewer.crosshairLps() });
}

async function sign() {
  if (!confirm("Sign this report? It cannot be changed afterwards.")) return;
  await api(`/api/analyses/${state.analysis.id}/sign`, { method: "POST" });
  await loadReview();
  await loadStudies();
}

// ---- wiring ------------------------------------------------------------------------------
$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setToken($("token").value.trim());
  guarded(signIn);
});
$("upload-form").addEventListener("submit", (e) => {
  e.preventDefault();
  guarded(uploadFiles);
});
$("analyse").addEventListener("click", () => guarded(analyse));
$("versions").addEventListener("change", (e) => guarded(() => selectAnalysis(Number(e.target.value))));
$("opacity").addEventListener("input", (e) => viewer.setOpacity(Number(e.target.value)));
for (const id of ["suv-min", "suv-max"]) {
  $(id).addEventListener("change", () => viewer.setWindow(Number($("suv-min").value), Number($("suv-max").value)));
}
$("outlines").addEventListener("change", (e) => viewer.showOutlines(e.target.checked));
$("add-at-crosshair").addEventListener("click", () => guarded(addAtCrosshair));
viewer.nv.onMouseUp = () => {
  if ($("add-mode").checked && !$("add-at-crosshair").disabled) guarded(addAtCrosshair);
};
$("save-impression").addEventListener("click", () => guarded(() => reviewCall("/review/impression", "PUT", { text: $("impression").value }, false)));
$("sign").addEventListener("click", () => guarded(sign));
if (token()) guarded(signIn);
