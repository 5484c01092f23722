/* The options page: the service URL and API key, kept in chrome.storage.sync. */
"use strict";

const DEFAULTS = { serviceUrl: "http://127.0.0.1:8080", apiKey: "", sites: [] };
const form = document.getElementById("options");
const status = document.getElementById("status");

const save = form.querySelector("button[type=submit]");
save.disabled = true;               // until the stored settings are in the form
chrome.storage.sync.get(DEFAULTS).then((stored) => {
  form.serviceUrl.value = stored.serviceUrl;
  form.apiKey.value = stored.apiKey;
  form.sites.value = stored.sites.join("\n");
  save.disabled = false;
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  let url;
  try {
    url = new URL(form.serviceUrl.value.trim());
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http(s)");
  } catch (_) {
    status.textContent = "The service URL must be an http:// or https:// address.";
    return;
  }
  const sites = form.sites.value.split(/[\s,]+/).map((site) => site.trim().toLowerCase())
    .filter(Boolean);
  await chrome.storage.sync.set({ serviceUrl: url.origin + url.pathname.replace(/\/+$/, ""),
                                  apiKey: form.apiKey.value.trim(), sites });
  status.textContent = "Saved.";
});
