/*
 * In-browser key pair + PKCS#10 CSR for the kubeconfig page (no libraries, no CDN).
 *
 * The private key is generated with WebCrypto (ECDSA P-256), exported only
 * to be written into the kubeconfig file the user downloads, and never sent
 * anywhere: the portal receives the CSR (public key + signature) and returns
 * the kubeconfig with the signed certificate; this script adds the key.
 *
 * The CSR is DER built by the small ASN.1 encoder below (RFC 2986):
 *   CertificationRequest ::= SEQUENCE {
 *     certificationRequestInfo SEQUENCE { version INTEGER 0, subject Name,
 *                                         subjectPKInfo SubjectPublicKeyInfo, attributes [0] {} },
 *     signatureAlgorithm AlgorithmIdentifier (ecdsa-with-SHA256),
 *     signature BIT STRING (DER ECDSA-Sig-Value) }
 */
(function () {
  "use strict";

  // --- ASN.1 DER ----------------------------------------------------------
  function concat(parts) {
    var total = 0, i, offset = 0;
    for (i = 0; i < parts.length; i++) total += parts[i].length;
    var out = new Uint8Array(total);
    for (i = 0; i < parts.length; i++) { out.set(parts[i], offset); offset += parts[i].length; }
    return out;
  }
  function lengthBytes(n) {
    if (n < 0x80) return Uint8Array.of(n);
    var bytes = [];
    while (n > 0) { bytes.unshift(n & 0xff); n = Math.floor(n / 256); }
    return Uint8Array.from([0x80 | bytes.length].concat(bytes));
  }
  function tlv(tag, content) { return concat([Uint8Array.of(tag), lengthBytes(content.length), content]); }
  function sequence() { return tlv(0x30, concat(Array.prototype.slice.call(arguments))); }
  function set() { return tlv(0x31, concat(Array.prototype.slice.call(arguments))); }
  function utf8String(text) { return tlv(0x0c, new TextEncoder().encode(text)); }
  function bitString(bytes) { return tlv(0x03, concat([Uint8Array.of(0), bytes])); }
  function integer(bytes) {
    // Minimal two's-complement encoding of an unsigned big-endian number.
    var start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    var body = bytes.slice(start);
    if (body[0] & 0x80) body = concat([Uint8Array.of(0), body]);
    return tlv(0x02, body);
  }
  function oid(dotted) {
    var arcs = dotted.split(".").map(Number);
    var out = [40 * arcs[0] + arcs[1]];
    for (var i = 2; i < arcs.length; i++) {
      var arc = arcs[i], chunk = [arc & 0x7f];
      arc = Math.floor(arc / 128);
      while (arc > 0) { chunk.unshift((arc & 0x7f) | 0x80); arc = Math.floor(arc / 128); }
      out = out.concat(chunk);
    }
    return tlv(0x06, Uint8Array.from(out));
  }

  var OID_COMMON_NAME = "2.5.4.3";
  var OID_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";

  function base64(bytes) {
    var binary = "";
    for (var i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }
  function pem(label, der) {
    var lines = base64(der).match(/.{1,64}/g).join("\n");
    return "-----BEGIN " + label + "-----\n" + lines + "\n-----END " + label + "-----\n";
  }

  /** A P-256 key pair and a CSR whose subject is CN=<commonName> (no O: groups are not asked for). */
  async function generateKeyAndCsr(commonName) {
    var subtle = window.crypto && window.crypto.subtle;
    if (!subtle) throw new Error("this browser offers no WebCrypto here (a secure context, https or localhost, is needed)");
    var keys = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
    var spki = new Uint8Array(await subtle.exportKey("spki", keys.publicKey));
    var subject = sequence(set(sequence(oid(OID_COMMON_NAME), utf8String(commonName))));
    var info = sequence(integer(Uint8Array.of(0)), subject, spki, tlv(0xa0, new Uint8Array(0)));
    // WebCrypto returns r||s (IEEE P1363); X.509 wants SEQUENCE { r INTEGER, s INTEGER }.
    var raw = new Uint8Array(await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, info));
    var half = raw.length / 2;
    var signature = sequence(integer(raw.slice(0, half)), integer(raw.slice(half)));
    var csr = sequence(info, sequence(oid(OID_ECDSA_WITH_SHA256)), bitString(signature));
    var pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", keys.privateKey));
    return { csrPem: pem("CERTIFICATE REQUEST", csr), keyPem: pem("PRIVATE KEY", pkcs8) };
  }

  /** Put client-key-data next to client-certificate-data (same indentation). */
  function insertKey(kubeconfig, keyPem) {
    var keyData = base64(new TextEncoder().encode(keyPem));
    var re = /^([ \t]*)client-certificate-data: .*$/m;
    if (!re.test(kubeconfig)) throw new Error("the portal's kubeconfig has no client certificate");
    return kubeconfig.replace(re, function (line, indent) { return line + "\n" + indent + "client-key-data: " + keyData; });
  }

  function describeErrors(body) {
    if (!body || typeof body !== "object") return "the portal answered with an error";
    if (body.detail) return String(body.detail);
    return Object.keys(body).map(function (field) {
      var msgs = Array.isArray(body[field]) ? body[field].join(" ") : String(body[field]);
      return (field === "non_field_errors" ? "" : field + ": ") + msgs;
    }).join(" · ");
  }

  function init() {
    var form = document.getElementById("kubeconfig-form");
    if (!form) return;
    var status = document.getElementById("keygen-status");
    var errors = document.getElementById("form-errors");
    var spinner = document.getElementById("issue-spinner");
    var button = document.getElementById("issue-button");
    var csrField = document.getElementById("csr-field");
    var result = document.getElementById("keygen-result");
    var link = document.getElementById("keygen-download");

    function mode() {
      var checked = form.querySelector("input[name=mode]:checked");
      return checked ? checked.value : "browser";
    }
    function syncMode() { csrField.hidden = mode() !== "csr"; }
    form.querySelectorAll("input[name=mode]").forEach(function (r) { r.addEventListener("change", syncMode); });
    syncMode();

    form.addEventListener("submit", async function (event) {
      if (mode() !== "browser") return; // the server handles the other two modes (a normal form post)
      event.preventDefault();
      errors.textContent = "";
      result.hidden = true;
      button.disabled = true;
      spinner.hidden = false;
      try {
        status.textContent = "Generating your key pair in this browser…";
        var generated = await generateKeyAndCsr(form.dataset.identity);
        status.textContent = "Asking the cluster to sign your certificate…";
        var nsValue = form.elements.namespace.value || "";
        var payload = {
          cluster: form.elements.cluster.value,
          namespace: nsValue ? nsValue.split("/").slice(1).join("/") : "",
          csr: generated.csrPem,
          reason: form.elements.reason.value || ""
        };
        if (form.elements.renews && form.elements.renews.value) payload.renews = Number(form.elements.renews.value);
        var response = await fetch(form.dataset.apiUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-CSRFToken": form.elements.csrfmiddlewaretoken.value
          },
          body: JSON.stringify(payload)
        });
        var body = await response.json().catch(function () { return null; });
        if (response.status !== 201) throw new Error(describeErrors(body));
        var kubeconfig = insertKey(body.kubeconfig, generated.keyPem);
        generated = null; // drop our reference to the key; the file is now the only copy
        var blob = new Blob([kubeconfig], { type: "application/yaml" });
        link.href = URL.createObjectURL(blob);
        link.download = "kubeconfig-" + body.cluster + "-" + body.user + ".yaml";
        result.hidden = false;
        status.innerHTML = "";
        var ok = document.createElement("span");
        ok.className = "ok";
        ok.textContent = "Certificate issued (serial " + body.serial.slice(0, 16) + "…, expires " + body.not_after + "). Your download has started.";
        status.appendChild(ok);
        link.click();
      } catch (err) {
        status.textContent = "";
        errors.textContent = err && err.message ? err.message : String(err);
      } finally {
        button.disabled = false;
        spinner.hidden = true;
      }
    });
  }

  window.portalKeygen = { generateKeyAndCsr: generateKeyAndCsr, insertKey: insertKey };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
