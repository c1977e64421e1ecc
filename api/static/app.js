// rag-news page: asks /v1/ask with streaming, links each [n] to its passage in the article,
// lists, uploads and deletes documents. Plain browser JavaScript, no build step, no CDN.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORAGE = "rag-news-api-key";

function headers(extra = {}) {
  const key = $("api-key").value.trim();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

// The message of an error body ({"error": {"code", "message"}}), or a plain description.
async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) {
      return `${body.error.message} (${response.status} ${body.error.code})`;
    }
  } catch (_) {
    // not JSON: fall through
  }
  return `the server answered ${response.status} ${response.statusText}`;
}

function setStatus(element, text, isError = false) {
  element.textContent = text;
  element.classList.toggle("error", isError);
}

// ---- asking -------------------------------------------------------------------------------

let citations = [];

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) {
    setStatus($("status"), "Type a question first.", true);
    return;
  }
  const answer = $("answer");
  answer.hidden = false;
  answer.className = "answer";
  answer.textContent = "";
  $("sources").hidden = true;
  $("passage").hidden = true;
  $("ask-button").disabled = true;
  setStatus($("status"), "Searching the articles…");
  try {
    const response = await fetch("/v1/ask", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify({ question, stream: true }),
    });
    if (!response.ok) {
      answer.hidden = true;
      setStatus($("status"), `Error: ${await errorMessage(response)}`, true);
      return;
    }
    await readEvents(response, (name, data) => {
      if (name === "token") {
        setStatus($("status"), "Writing the answer…");
        answer.textContent += data.text;
      } else if (name === "done") {
        showAnswer(data);
      } else if (name === "error") {
        setStatus($("status"), `Error: ${data.error.message} (${data.error.code})`, true);
      }
    });
  } catch (error) {
    setStatus($("status"), `Error: cannot reach the server (${error.message})`, true);
  } finally {
    $("ask-button").disabled = false;
  }
}

// Server-Sent Events from a fetch body: calls onEvent(name, parsed data) for each event.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

// The checked answer replaces the streamed draft: [n] become links to their passages.
function showAnswer(body) {
  citations = body.citations;
  const answer = $("answer");
  answer.textContent = "";
  answer.classList.toggle("abstained", body.abstained);
  const byNumber = new Map(citations.map((c) => [c.n, c]));
  const parts = body.answer.split(/(\[\d+\])/);
  for (const part of parts) {
    const match = /^\[(\d+)\]$/.exec(part);
    const citation = match && byNumber.get(Number(match[1]));
    if (citation) {
      const link = document.createElement("a");
      link.href = `#passage`;
      link.className = "cite";
      link.dataset.n = String(citation.n);
      link.textContent = part;
      link.title = citation.title;
      link.addEventListener("click", (event) => {
        event.preventDefault();
        showPassage(citation, link);
      });
      answer.append(link);
    } else {
      answer.append(document.createTextNode(part));
    }
  }
  if (body.abstained) {
    addNote(answer, "The articles do not answer this question, so no answer was made up.");
    setStatus($("status"), "No answer in the articles.");
  } else {
    setStatus($("status"), citations.length ? "Click a [n] to see its source." : "");
  }
  if (body.degraded) {
    addNote(answer, "The language model was unavailable; this answer was extracted from the articles.");
  }
  const sources = $("sources");
  sources.textContent = "";
  for (const citation of citations) {
    const item = document.createElement("li");
    item.value = citation.n;
    item.textContent = `${citation.title} (${citation.doc_id})`;
    sources.append(item);
  }
  sources.hidden = citations.length === 0;
}

function addNote(parent, text) {
  const note = document.createElement("span");
  note.className = "note";
  note.textContent = text;
  parent.append(note);
}

// The cited article with the cited span (citation.start..end of its stored text) highlighted.
async function showPassage(citation, link) {
  for (const other of document.querySelectorAll("a.cite.active")) other.classList.remove("active");
  link.classList.add("active");
  const panel = $("passage");
  const response = await fetch(`/v1/documents/${encodeURIComponent(citation.doc_id)}`, {
    headers: headers(),
  });
  let text = citation.text;
  let start = 0;
  let end = citation.text.length;
  if (response.ok) {
    const documentBody = await response.json();
    text = documentBody.text;
    start = citation.start;
    end = citation.end;
  } else {
    setStatus($("status"), `Showing the passage only: ${await errorMessage(response)}`, true);
  }
  $("passage-title").textContent = `[${citation.n}] ${citation.title}`;
  const meta = [citation.doc_id, citation.published, citation.url].filter(Boolean);
  $("passage-meta").textContent = meta.join(" · ");
  const body = $("passage-text");
  body.textContent = "";
  const mark = document.createElement("mark");
  mark.className = "cited";
  mark.textContent = text.slice(start, end);
  body.append(text.slice(0, start), mark, text.slice(end));
  panel.hidden = false;
  mark.scrollIntoView({ block: "center" });
}

// ---- documents ----------------------------------------------------------------------------

async function loadDocuments() {
  const list = $("documents");
  const response = await fetch("/v1/documents", { headers: headers() });
  if (!response.ok) {
    setStatus($("documents-status"), `Cannot list documents: ${await errorMessage(response)}`, true);
    return;
  }
  const body = await response.json();
  list.textContent = "";
  for (const doc of body.documents) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = doc.title + " ";
    const id = document.createElement("span");
    id.className = "doc-id";
    id.textContent = `${doc.doc_id} · ${doc.chunks} passages`;
    label.append(id);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete ${doc.doc_id}`);
    remove.addEventListener("click", () => deleteDocument(doc.doc_id));
    item.append(label, remove);
    list.append(item);
  }
  setStatus(
    $("documents-status"),
    `${body.total_documents} documents, ${body.total_chunks} passages.`,
  );
}

async function deleteDocument(docId) {
  if (!window.confirm(`Delete ${docId}? Later answers will not use it.`)) return;
  const response = await fetch(`/v1/documents/${encodeURIComponent(docId)}`, {
    method: "DELETE",
    headers: headers(),
  });
  if (!response.ok) {
    setStatus($("documents-status"), `Not deleted: ${await errorMessage(response)}`, true);
    return;
  }
  await loadDocuments();
  setStatus($("documents-status"), `Deleted ${docId}.`);
}

async function upload(event) {
  event.preventDefault();
  const files = $("upload-file").files;
  if (!files.length) {
    setStatus($("documents-status"), "Choose a file first.", true);
    return;
  }
  const form = new FormData();
  for (const file of files) form.append("file", file);
  setStatus($("documents-status"), "Uploading and indexing…");
  const response = await fetch("/v1/documents", { method: "POST", headers: headers(), body: form });
  if (!response.ok) {
    setStatus($("documents-status"), `Not added: ${await errorMessage(response)}`, true);
    return;
  }
  const body = await response.json();
  await loadDocuments();
  const names = body.documents.map((d) => `${d.doc_id} (${d.status})`).join(", ");
  setStatus($("documents-status"), `Added: ${names}.`);
  $("upload-file").value = "";
}

window.addEventListener("DOMContentLoaded", () => {
  $("api-key").value = window.localStorage.getItem(KEY_STORAGE) || "";
  $("api-key").addEventListener("change", () => {
    window.localStorage.setItem(KEY_STORAGE, $("api-key").value.trim());
    loadDocuments();
  });
  $("ask-form").addEventListener("submit", ask);
  $("upload-form").addEventListener("submit", upload);
  loadDocuments();
});
