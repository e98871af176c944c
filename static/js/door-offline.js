// The door without a network. Opened online, the page downloads its check-in list (every ticket's
// status, holder, version and a hash of its random code, and the event's public key, with which
// signed codes verify) into IndexedDB and registers a service worker that keeps
// the page itself. With the network gone, a scan is checked against that list on the phone: the
// same answers as online, marked "offline", a second scan on this phone refused, and each
// admission kept with a nonce. Back online, the kept scans are uploaded (a retried upload is
// recorded once, by its nonces) and the server's verdict on each is shown: admitted, or admitted
// twice when another phone let the same ticket in first.
(() => {
  const root = document.querySelector("[data-offline-door]");
  const form = document.querySelector("[data-door-form]");
  if (!root || !form || !window.indexedDB || !window.crypto?.subtle) return;
  const listId = Number(root.dataset.listId);
  const input = form.querySelector("input[name=code]");
  const syncList = document.querySelector("[data-sync-results]");
  const REFRESH_MS = 60000;
  const device = localStorage.getItem("eventtix-device") || `phone-${crypto.randomUUID().slice(0, 8)}`;
  localStorage.setItem("eventtix-device", device);
  // The page's words for the script, in the person's language (door.html's data-door-strings),
  // English where the page has none; {name} marks a value filled in.
  const words = document.querySelector("[data-door-strings]")?.dataset || {};
  const t = (key, fallback, values = {}) =>
    (words[key] || fallback).replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));

  // IndexedDB: "lists" holds each list's download (by list id), "scans" the admissions made
  // offline and not yet uploaded (by nonce).
  const openDb = () =>
    new Promise((resolve, reject) => {
      const request = indexedDB.open("eventtix-door", 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore("lists");
        request.result.createObjectStore("scans", { keyPath: "nonce" });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  const dbPromise = openDb();
  const store = async (name, mode, work) => {
    const db = await dbPromise;
    return new Promise((resolve, reject) => {
      const tx = db.transaction(name, mode);
      const result = work(tx.objectStore(name));
      tx.oncomplete = () => resolve(result?.result);
      tx.onerror = () => reject(tx.error);
    });
  };
  const getList = () => store("lists", "readonly", (s) => s.get(listId));
  const putList = (data) => store("lists", "readwrite", (s) => s.put(data, listId));
  const pendingScans = async () =>
    ((await store("scans", "readonly", (s) => s.getAll())) || []).filter((scan) => scan.listId === listId);

  let data = null; // this list's download, its tickets indexed by code hash and by id
  let byHash = new Map();
  let byId = new Map();
  let publicKey = null;
  const index = (download) => {
    data = download;
    byHash = new Map(download.tickets.map((ticket) => [ticket.code_hash, ticket]));
    byId = new Map(download.tickets.map((ticket) => [ticket.id, ticket]));
    publicKey = null;
  };

  // Signed codes (ticketing/services/signing.py): "T." and base32 of a format byte, LEB128
  // varints of ticket, event, type and version, then the Ed25519 signature of
  // "eventtix-ticket:" + that payload, checked against the event's public key from the download.
  const SIGNED = /^T\.[A-Z2-7]+$/;
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const base32 = (text) => {
    const out = [];
    let value = 0;
    let bits = 0;
    for (const char of text) {
      value = (value << 5) | ALPHABET.indexOf(char);
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        out.push((value >> bits) & 0xff);
        value &= (1 << bits) - 1;
      }
    }
    return new Uint8Array(out);
  };
  const base64url = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const varints = (bytes) => {
    const numbers = [];
    let number = 0;
    let shift = 0;
    for (const byte of bytes) {
      number += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(byte & 0x80)) {
        numbers.push(number);
        number = 0;
        shift = 0;
      }
    }
    return numbers;
  };
  // The payload's [ticket, event, type, version]: null unless well formed, and unless its
  // signature holds when it names this list's event (another event's code is refused unread).
  const readSigned = async (code) => {
    const raw = base32(code.slice(2));
    if (raw.length < 66 || raw[0] !== 1) return null;
    const payload = raw.slice(0, -64);
    const signature = raw.slice(-64);
    const fields = varints(payload.slice(1));
    if (fields.length !== 4) return null;
    if (fields[1] !== data.check_in_list.event.id) return fields;
    publicKey ||= await crypto.subtle.importKey("raw", base64url(data.public_key), { name: "Ed25519" }, false, ["verify"]);
    const context = new TextEncoder().encode("eventtix-ticket:");
    const message = new Uint8Array(context.length + payload.length);
    message.set(context);
    message.set(payload, context.length);
    return (await crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature, message)) ? fields : null;
  };

  // The list's ticket a scanned code names, or the refusal to show.
  const find = async (code) => {
    if (!SIGNED.test(code)) return { ticket: byHash.get(await hashOf(code)) };
    let fields = null;
    try {
      fields = await readSigned(code);
    } catch (_) {
      return { refusal: [t("cannotCheck", "Cannot check offline"), t("cannotVerify", "This browser cannot check signed codes offline.")] };
    }
    if (!fields) return { ticket: undefined };
    const [ticketId, eventId, , version] = fields;
    if (eventId !== data.check_in_list.event.id) {
      return { refusal: [t("wrongEvent", "Wrong event"), t("wrongEventDetail", "This ticket is for another event. It was not used.")] };
    }
    const ticket = byId.get(ticketId);
    if (ticket && ticket.version !== version) {
      const detail = t("outOfDateDetail", "This ticket was re-issued: ask the guest for the current one.");
      return { refusal: [t("outOfDate", "Out-of-date code"), detail] };
    }
    return { ticket };
  };

  const hashOf = async (code) => {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(code));
    return Array.from(new Uint8Array(digest).slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
  };

  // A typed link to a ticket page stands for its code, as on the server (CheckInForm).
  const codeOf = (typed) => {
    const text = typed.trim();
    if (!text.includes("/")) return text;
    const match = text.match(/\/tickets\/([A-Za-z0-9_-]+)\/?$/);
    return match ? match[1] : null;
  };

  const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });

  const showStatus = async () => {
    const waiting = (await pendingScans()).length;
    const online = navigator.onLine;
    const list = data
      ? data.complete
        ? t("listOf", "list of {n} tickets from {time}", { n: data.tickets.length, time: time(data.generated_at) })
        : t("listTooBig", "this list is too big to keep on a phone: offline scans cannot be checked")
      : t("noListYet", "no list on this phone yet");
    const uploads =
      waiting === 1
        ? t("uploadsOne", "1 scan waiting to upload")
        : t("uploadsOther", "{n} scans waiting to upload", { n: waiting });
    root.textContent = `${online ? t("online", "Online") : t("offline", "Offline")} · ${list} · ${uploads}`;
    root.classList.toggle("offline", !online);
  };

  const refresh = async () => {
    if (!navigator.onLine) return;
    try {
      const response = await fetch(root.dataset.offlineUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const download = await response.json();
      // Admissions this phone has not uploaded yet stay admitted in its copy.
      const mine = new Set((await pendingScans()).map((scan) => scan.ticketId));
      download.tickets.forEach((ticket) => {
        if (mine.has(ticket.id)) ticket.inside = true;
      });
      index(download);
      await putList(download);
    } catch (_) {
      // The network went while downloading: the last copy stays.
    }
    await showStatus();
  };

  // The answer, drawn as the server draws it (templates/ticketing/_door_result.html).
  const answer = (admitted, verdict, type, detail) => {
    const section = document.createElement("section");
    section.id = "door-result";
    section.setAttribute("aria-live", "assertive");
    section.dataset.doorResult = "";
    section.className = `door-result shown ${admitted ? "admitted" : "refused"} offline-answer`;
    const line = (cls, text) => {
      const p = document.createElement("p");
      p.className = cls;
      p.textContent = text;
      section.append(p);
    };
    line("verdict-mark", admitted ? "✓" : "✗");
    section.firstChild.setAttribute("aria-hidden", "true");
    line("verdict", verdict);
    if (type) line("verdict-type", type);
    line("detail", detail);
    line(
      "offline-note",
      admitted
        ? t("checkedOfflineAdmitted", "Checked on this phone, offline: uploaded when the network is back.")
        : t("checkedOffline", "Checked on this phone, offline."),
    );
    line("next-hint", t("nextHint", "Ready for the next ticket: just scan it."));
    document.getElementById("door-result").replaceWith(section);
    document.body.dispatchEvent(new CustomEvent("door:result"));
  };

  const checkOffline = async (typed) => {
    const code = codeOf(typed);
    if (code === null) return answer(false, t("notCode", "Not a ticket code"), "", t("notCodeDetail", "That link is not an EventTix ticket."));
    if (!data) return answer(false, t("noList", "No list on this phone"), "", t("noListDetail", "Open this page once online before doors open."));
    if (!data.complete) return answer(false, t("cannotCheck", "Cannot check offline"), "", t("tooBigDetail", "This list is too big to keep on a phone."));
    const { ticket, refusal } = await find(code);
    if (refusal) return answer(false, refusal[0], "", refusal[1]);
    if (!ticket) {
      const detail = t("unknownDetail", "Not a ticket of {event} on this list.", { event: data.check_in_list.event.name });
      return answer(false, t("unknown", "Unknown ticket"), "", detail);
    }
    const type = data.ticket_types.find((t) => t.id === ticket.ticket_type_id)?.name || "";
    if (ticket.status === "cancelled") {
      return answer(false, t("cancelled", "Cancelled ticket"), type, t("cancelledDetail", "This ticket was cancelled and admits nobody."));
    }
    if (ticket.inside) {
      return answer(false, t("alreadyIn", "Already checked in"), type, t("alreadyInDetail", "{name} is already in.", { name: ticket.holder_name }));
    }
    const scan = { nonce: crypto.randomUUID(), code, scanned_at: new Date().toISOString(), listId, ticketId: ticket.id };
    await store("scans", "readwrite", (s) => s.put(scan));
    ticket.inside = true;
    await putList(data);
    answer(true, t("admitted", "Admitted"), type, t("admittedOffline", "{name} · admitted offline", { name: ticket.holder_name }));
    await showStatus();
  };

  const csrfToken = () => form.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";

  let syncing = false;
  const sync = async () => {
    if (syncing || !navigator.onLine) return;
    const scans = await pendingScans();
    if (!scans.length) return;
    syncing = true;
    try {
      const body = { device, scans: scans.map(({ nonce, code, scanned_at }) => ({ nonce, code, scanned_at })) };
      const response = await fetch(root.dataset.scansUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
      });
      if (!response.ok) return;
      const { results } = await response.json();
      await store("scans", "readwrite", (s) => results.forEach((r) => s.delete(r.nonce)));
      showVerdicts(results);
      document.body.dispatchEvent(new CustomEvent("door:refresh")); // the counts, at once
      await refresh();
    } catch (_) {
      // Still no network: the scans stay and the next attempt sends them with the same nonces.
    } finally {
      syncing = false;
      await showStatus();
    }
  };

  const showVerdicts = (results) => {
    const admitted = results.filter((r) => r.verdict === "admitted").length;
    const flagged = results.filter((r) => r.verdict !== "admitted");
    const summary = document.createElement("li");
    const uploaded =
      results.length === 1
        ? t("uploadedOne", "Uploaded 1 offline scan:")
        : t("uploadedOther", "Uploaded {n} offline scans:", { n: results.length });
    const outcome = flagged.length
      ? t("uploadedFlagged", "{admitted} admitted, {flagged} to look into.", { admitted, flagged: flagged.length })
      : t("uploadedAdmitted", "{admitted} admitted.", { admitted });
    summary.textContent = `${uploaded} ${outcome}`;
    const items = flagged.map((r) => {
      const li = document.createElement("li");
      li.className = "flagged";
      li.textContent = r.verdict === "admitted_twice" ? r.detail : t("ticketDetail", "Ticket {id}: {detail}", { id: r.ticket_id ?? "", detail: r.detail });
      return li;
    });
    syncList.replaceChildren(summary, ...items);
    syncList.hidden = false;
    // The last answer shrinks to its banner, so that the upload's news can be read.
    document.getElementById("door-result")?.classList.add("compact");
  };

  // A scan while offline never reaches the network: it is checked here instead. A scan whose
  // request failed on the way is too (kept with a nonce, the upload records it once).
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    if (event.detail.elt !== form || navigator.onLine) return;
    event.preventDefault();
    checkOffline(input.value);
  });
  document.body.addEventListener("htmx:sendError", (event) => {
    if (event.detail.elt === form) checkOffline(input.value);
  });
  window.addEventListener("online", () => sync().then(refresh));
  window.addEventListener("offline", showStatus);
  setInterval(() => sync().then(refresh), REFRESH_MS);

  if ("serviceWorker" in navigator) {
    // Once the worker controls this page, fetch the page through it so that it keeps a copy.
    const keepThisPage = () => fetch(location.pathname, { credentials: "same-origin" }).catch(() => {});
    if (navigator.serviceWorker.controller) keepThisPage();
    else navigator.serviceWorker.addEventListener("controllerchange", keepThisPage, { once: true });
    navigator.serviceWorker.register(root.dataset.swUrl, { scope: "/door/" }).catch(() => {});
  }
  getList()
    .then((saved) => saved && index(saved))
    .then(showStatus)
    .then(sync)
    .then(refresh);
})();
