// POST a request and read its reply as Server-Sent Events: onEvent(event, id, data) per event.
async function postSse(url, body, onEvent) {
  const res = await fetch(url, {method: 'POST', body, headers: {'Accept': 'text/event-stream'}});
  if (!res.ok) throw await res.json();           // a problem+json: {type, title, status, detail, ...}
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buf += value;
    for (let end; (end = buf.indexOf('\n\n')) >= 0; ) {   // a blank line ends an event (LF only)
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let event = 'message', id = null, data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;        // a comment: the ": ping" keep-alive
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = text;
        else if (field === 'id') id = text;
        else if (field === 'data') data.push(text);
      }
      if (data.length) onEvent(event, id, JSON.parse(data.join('\n')));
    }
  }
}
