// POST a request and read its reply as NDJSON: onPart(part) per line.
async function postNdjson(url, body, onPart) {
  const res = await fetch(url, {method: 'POST', body, headers: {'Accept': 'application/x-ndjson'}});
  if (!res.ok) throw await res.json();           // a problem+json: {type, title, status, detail, ...}
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    const lines = (buf + value).split('\n');
    buf = lines.pop();                             // an unfinished line waits for the next chunk
    for (const line of lines) if (line) onPart(JSON.parse(line));
  }
}
