// Shared by the pages: the API key (kept in this tab's sessionStorage only) and JSON calls.
const Hub = {
  key() { return sessionStorage.getItem("hubApiKey") || ""; },
  setKey(value) { sessionStorage.setItem("hubApiKey", value.trim()); },
  async call(method, path, body) {
    const init = { method, headers: { "X-API-Key": Hub.key() } };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    const response = await fetch(path, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail || data);
      throw new Error(`${response.status}: ${detail}`);
    }
    return data;
  },
  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
    return node;
  },
  status(text, isError = false) {
    const box = document.getElementById("status");
    box.textContent = text; box.classList.toggle("error", isError);
  },
  wireKeyForm() {
    const input = document.getElementById("api-key");
    input.value = Hub.key();
    input.addEventListener("change", () => Hub.setKey(input.value));
  },
};
