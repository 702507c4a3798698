// Calls to the nenscope API with the user's bearer token (kept for the browser tab only).

const KEY = "nenscope-token";

export function token() {
  return sessionStorage.getItem(KEY) || "";
}

export function setToken(value) {
  sessionStorage.setItem(KEY, value);
}

export function authHeaders() {
  return { Authorization: `Bearer ${token()}` };
}

// JSON request; throws Error(detail) on an error status.
export async function api(path, { method = "GET", body } = {}) {
  const headers = authHeaders();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
  if (!r.ok) throw new Error(data?.detail ? String(typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail)) : `${r.status}`);
  return data;
}

// Multipart upload of files (field "files") with progress (0-1); resolves to the stored study.
export function upload(files, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/studies");
    xhr.setRequestHeader("Authorization", `Bearer ${token()}`);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 201) resolve(data);
      else reject(new Error(data?.detail || `upload failed (${xhr.status})`));
    };
    xhr.onerror = () => reject(new Error("upload failed (network)"));
    xhr.send(form);
  });
}

// Build an element; text is always set as text (header values may contain markup).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}
