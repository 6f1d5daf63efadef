// The privacy center (/privacy): the policies in force and my receipts,
// my notices, a switch per optional purpose with its history, who
// received my data (the disclosure ledger) and staff access to it (the
// audit log). Also the consent window: after a material policy version the
// server answers 403 consent-required (api.js reports it) until I accept;
// ConsentGate then shows what changed since the version I accepted, as a
// word diff computed here, and records my acceptance.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, onConsentRequired, post, put } from '../api.js';
import { Notice, ProblemAlert } from '../forms.jsx';
import { useI18n } from '../i18n.js';
import { useRouter } from '../router.js';
import { useSession } from '../session.js';
import { LoadError, useLoad, useNewestFirst as usePages } from '../load.jsx';
import { Page, Time, formatTime } from './page.jsx';
import { CancelSection, ExportSection } from './privacy_rights.jsx';
import { InventorySection } from './privacy_inventory.jsx';
import { RequestsSection } from './requests.jsx';

export const PURPOSES = [
  'recommendations',
  'marketing_email',
  'marketing_sms',
  'marketing_calls',
  'contact_matching',
  'model_improvement',
];

/* ---------------------------------------------------------------- diff */

// Words of Latin scripts, single CJK characters (no spaces between words
// there), and runs of white space: the units a reader sees change.
const TOKEN = /\s+|[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]+/gu;
const MAX_CELLS = 4_000_000; // past this the middle is shown as replaced, not compared

/* Edit script from a to b: [[op, item]] with op '=', '-' or '+' (longest common subsequence). */
function lcs(a, b) {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) endA--, endB--;
  const ops = a.slice(0, start).map((x) => ['=', x]);
  const A = a.slice(start, endA);
  const B = b.slice(start, endB);
  const n = A.length;
  const m = B.length;
  let i = 0;
  let j = 0;
  if (n * m <= MAX_CELLS) {
    const w = m + 1;
    const L = new Uint32Array((n + 1) * w); // L[i][j]: common length of A[i..] and B[j..]
    for (let y = n - 1; y >= 0; y--)
      for (let x = m - 1; x >= 0; x--)
        L[y * w + x] = A[y] === B[x] ? L[(y + 1) * w + x + 1] + 1 : Math.max(L[(y + 1) * w + x], L[y * w + x + 1]);
    while (i < n && j < m) {
      if (A[i] === B[j]) ops.push(['=', A[i++]]), j++;
      else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) ops.push(['-', A[i++]]);
      else ops.push(['+', B[j++]]);
    }
  }
  while (i < n) ops.push(['-', A[i++]]);
  while (j < m) ops.push(['+', B[j++]]);
  for (let k = endA; k < a.length; k++) ops.push(['=', a[k]]);
  return ops;
}

/* Joins neighbouring tokens of one kind: [{op, text}]. */
function segments(ops) {
  const out = [];
  for (const [op, text] of ops) {
    const last = out[out.length - 1];
    if (last && last.op === op) last.text += text;
    else out.push({ op, text });
  }
  return out;
}

/* Moves the white space at the end of a change out of its mark. */
function tidy(segs) {
  for (let i = 0; i + 1 < segs.length; i++) {
    const space = segs[i].op !== '=' && segs[i + 1].op === '=' ? segs[i].text.match(/\s+$/) : null;
    if (space && space[0].length < segs[i].text.length) {
      segs[i].text = segs[i].text.slice(0, -space[0].length);
      segs[i + 1].text = space[0] + segs[i + 1].text;
    }
  }
  return segs;
}

const words = (line, op) => segments(line.match(TOKEN)?.map((t) => [op, t]) || []);

/*
 * What changed from oldText to newText, for reading: one entry per line of
 * the result, each a list of {op: '=' | '-' | '+', text}. Lines are matched
 * first; a changed line is then compared word by word.
 */
export function policyDiff(oldText, newText) {
  const lines = lcs(oldText.split('\n'), newText.split('\n'));
  const out = [];
  for (let k = 0; k < lines.length; ) {
    if (lines[k][0] === '=') {
      out.push([{ op: '=', text: lines[k++][1] }]);
      continue;
    }
    const gone = [];
    const came = [];
    for (; k < lines.length && lines[k][0] !== '='; k++) (lines[k][0] === '-' ? gone : came).push(lines[k][1]);
    const pairs = Math.min(gone.length, came.length);
    for (let p = 0; p < pairs; p++) out.push(tidy(segments(lcs(gone[p].match(TOKEN) || [], came[p].match(TOKEN) || []))));
    for (const line of gone.slice(pairs)) out.push(words(line, '-'));
    for (const line of came.slice(pairs)) out.push(words(line, '+'));
  }
  return out.filter((line) => line.some((s) => s.text.trim()));
}

function DiffText({ oldText, newText }) {
  const { t } = useI18n();
  const lines = oldText == null ? newText.split('\n').map((l) => [{ op: '=', text: l }]) : policyDiff(oldText, newText);
  const count = (op) => lines.reduce((n, l) => n + l.filter((s) => s.op === op && s.text.trim()).length, 0);
  return (
    <div class="policy-text">
      {oldText != null && (
        <p class="hint">{t('privacy.center.diff.summary', { added: count('+'), removed: count('-') })}</p>
      )}
      {lines
        .filter((l) => l.some((s) => s.text.trim()))
        .map((line, i) => (
          <p key={i}>
            {line.map((s, j) =>
              s.op === '+' ? (
                <ins key={j} title={t('privacy.center.diff.added')}>
                  {s.text}
                </ins>
              ) : s.op === '-' ? (
                <del key={j} title={t('privacy.center.diff.removed')}>
                  {s.text}
                </del>
              ) : (
                s.text
              ),
            )}
          </p>
        ))}
    </div>
  );
}

/* ---------------------------------------------------------------- loading */

/* A table of a paged list: columns is [[heading, cell(item)]]. */
function PagedTable({ pages, label, columns, empty }) {
  const { t } = useI18n();
  return (
    <>
      <LoadError error={pages.error} />
      {pages.items.length > 0 && (
        <table class="log" aria-label={label}>
          <thead>
            <tr>
              {columns.map(([h]) => (
                <th scope="col" key={h}>
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {pages.items.map((item) => (
              <tr key={item.id}>
                {columns.map(([h, cell]) => (
                  <td key={h}>{cell(item)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!pages.loading && !pages.error && pages.items.length === 0 && <p>{empty}</p>}
      {pages.next && (
        <button type="button" class="button" disabled={pages.loading} onClick={pages.more}>
          {t('log.more')}
        </button>
      )}
    </>
  );
}

/* A catalogue text when the catalogue has it, else the raw value. */
function known(t, key, raw) {
  const text = t(key);
  return text === key ? raw : text;
}

/* ---------------------------------------------------------------- policies */

async function acceptAll(docs) {
  for (const d of docs) await post('/api/v1/me/privacy/consent', { version_id: d.in_force.id, lang: d.in_force.lang });
}

/* One document: what is in force, what I accepted, and what changed between them. */
function PolicyDocument({ doc, onAccepted }) {
  const { t, lang } = useI18n();
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const name = t(`policy.document.${doc.document}`);
  const force = doc.in_force;
  const accepted = doc.accepted;
  const accept = async () => {
    setBusy(true);
    setProblem(null);
    try {
      await acceptAll([doc]);
      onAccepted?.();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      setProblem(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card policy" aria-labelledby={`doc-${doc.document}`} data-document={doc.document}>
      <h3 id={`doc-${doc.document}`}>
        {name}
        {doc.must_accept && <span class="badge">{t('privacy.center.policies.must')}</span>}
      </h3>
      {!force && <p>{t('privacy.center.policies.none')}</p>}
      {force && (
        <p class="row-meta">
          {t('privacy.center.policies.in-force', { version: force.version, date: formatTime(lang, force.effective_at, true) })}
          {force.material && <span class="badge">{t('privacy.center.policies.material')}</span>}
        </p>
      )}
      {accepted && (
        <p class="row-meta">
          {accepted.implicit
            ? t('privacy.center.policies.accepted-at-signup', { version: accepted.version })
            : t('privacy.center.policies.accepted', {
                version: accepted.version,
                date: formatTime(lang, accepted.accepted_at),
              })}
        </p>
      )}
      {force && (
        <details open={doc.must_accept}>
          <summary>
            {!doc.up_to_date && accepted ? t('privacy.center.policies.changes') : t('privacy.center.policies.read')}
          </summary>
          <h4>{force.title}</h4>
          <DiffText oldText={!doc.up_to_date && accepted ? accepted.body : null} newText={force.body} />
        </details>
      )}
      <LoadError error={problem} />
      {force && !doc.up_to_date && (
        <div class="actions">
          <button type="button" class="button primary" disabled={busy} onClick={accept}>
            {t('privacy.center.policies.accept', { document: name, version: force.version })}
          </button>
        </div>
      )}
    </section>
  );
}

function PoliciesSection() {
  const { t } = useI18n();
  const consent = useLoad('/api/v1/me/privacy/consent');
  const receipts = usePages('/api/v1/me/privacy/receipts', 'receipts');
  const [done, setDone] = useState(false);
  const accepted = () => {
    setDone(true);
    consent.reload();
    receipts.reload();
  };
  return (
    <section class="card" aria-labelledby="pc-policies">
      <h2 id="pc-policies">{t('privacy.center.policies.title')}</h2>
      <LoadError error={consent.error} />
      {(consent.data?.documents || []).map((d) => (
        <PolicyDocument key={d.document} doc={d} onAccepted={accepted} />
      ))}
      {done && <Notice>{t('privacy.center.policies.thanks')}</Notice>}
      <h3 id="pc-receipts">{t('privacy.center.receipts.title')}</h3>
      <p class="hint">{t('privacy.center.receipts.hint')}</p>
      <PagedTable
        pages={receipts}
        label={t('privacy.center.receipts.title')}
        empty={t('privacy.center.receipts.empty')}
        columns={[
          [t('log.when'), (r) => <Time ms={r.accepted_at} />],
          [
            t('privacy.center.receipts.document'),
            (r) => t('privacy.center.receipts.version', { document: t(`policy.document.${r.document}`), version: r.version }),
          ],
          [t('privacy.center.receipts.lang'), (r) => r.lang],
          [t('log.where'), (r) => r.ip || '—'],
          [t('privacy.center.receipts.device'), (r) => r.user_agent || '—'],
          [t('privacy.center.receipts.channel'), (r) => known(t, `privacy.center.channel.${r.channel}`, r.channel)],
        ]}
      />
    </section>
  );
}

/* ---------------------------------------------------------------- inbox */

function InboxSection() {
  const { t, lang } = useI18n();
  const inbox = usePages('/api/v1/me/inbox', 'items');
  const text = (n) => {
    const p = n.params || {};
    if (n.kind === 'policy.published') {
      return t(p.material ? 'privacy.center.inbox.policy-material' : 'privacy.center.inbox.policy', {
        document: t(`policy.document.${p.document}`),
        version: p.version,
        date: formatTime(lang, p.effective_at, true),
      });
    }
    return known(t, `privacy.center.inbox.${n.kind}`, n.kind);
  };
  const read = async (n) => {
    await post(`/api/v1/me/inbox/${n.id}/read`).catch(() => {});
    inbox.reload();
  };
  return (
    <section class="card" aria-labelledby="pc-inbox">
      <h2 id="pc-inbox">{t('privacy.center.inbox.title')}</h2>
      <LoadError error={inbox.error} />
      <ul class="rows" aria-label={t('privacy.center.inbox.title')}>
        {inbox.items.map((n) => (
          <li key={n.id} class="row" data-read={n.read_at ? 'yes' : 'no'}>
            <div class="row-main">
              {!n.read_at && <span class="badge">{t('privacy.center.inbox.new')}</span>}
              <span>{text(n)}</span>
              <span class="row-meta">
                <Time ms={n.created_at} />
              </span>
            </div>
            {!n.read_at && (
              <button type="button" class="button" onClick={() => read(n)}>
                {t('privacy.center.inbox.mark-read')}
              </button>
            )}
          </li>
        ))}
      </ul>
      {!inbox.loading && !inbox.error && inbox.items.length === 0 && <p>{t('privacy.center.inbox.empty')}</p>}
      {inbox.next && (
        <button type="button" class="button" onClick={inbox.more}>
          {t('log.more')}
        </button>
      )}
    </section>
  );
}

/* ---------------------------------------------------------------- purposes */

function PurposeSwitch({ p, onChanged }) {
  const { t } = useI18n();
  const [on, setOn] = useState(p.on);
  const [state, setState] = useState({ busy: false, saved: false, error: null });
  useEffect(() => setOn(p.on), [p.on]);
  const id = `purpose-${p.purpose}`;
  const change = async (e) => {
    const want = e.currentTarget.checked;
    setOn(want);
    setState({ busy: true, saved: false, error: null });
    try {
      const r = await put(`/api/v1/me/privacy/purposes/${p.purpose}`, { on: want });
      setOn(r.on);
      setState({ busy: false, saved: true, error: null });
      onChanged();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      setOn(!want);
      setState({ busy: false, saved: false, error: err });
    }
  };
  return (
    <li class="row purpose" data-purpose={p.purpose}>
      <div class="check">
        <input
          type="checkbox"
          role="switch"
          id={id}
          checked={on}
          aria-checked={on ? 'true' : 'false'}
          aria-describedby={`${id}-hint`}
          disabled={state.busy}
          onChange={change}
        />
        <label for={id}>{t(`privacy.switch.${p.purpose}`)}</label>
      </div>
      <p id={`${id}-hint`} class="row-meta">
        {t(`privacy.switch.${p.purpose}.hint`)}
      </p>
      {state.saved && <Notice>{on ? t('privacy.center.purposes.on') : t('privacy.center.purposes.off')}</Notice>}
      <LoadError error={state.error} />
    </li>
  );
}

function PurposesSection() {
  const { t } = useI18n();
  const purposes = useLoad('/api/v1/me/privacy/purposes');
  const history = usePages('/api/v1/me/privacy/purpose-history', 'changes');
  const onOff = (v) => (v ? t('privacy.center.purposes.state-on') : t('privacy.center.purposes.state-off'));
  return (
    <section class="card" aria-labelledby="pc-purposes">
      <h2 id="pc-purposes">{t('privacy.center.purposes.title')}</h2>
      <p class="hint">{t('privacy.center.purposes.hint')}</p>
      <LoadError error={purposes.error} />
      <ul class="rows" aria-label={t('privacy.center.purposes.title')}>
        {(purposes.data?.purposes || []).map((p) => (
          <PurposeSwitch key={p.purpose} p={p} onChanged={history.reload} />
        ))}
      </ul>
      <h3>{t('privacy.center.purposes.history')}</h3>
      <PagedTable
        pages={history}
        label={t('privacy.center.purposes.history')}
        empty={t('privacy.center.purposes.history-empty')}
        columns={[
          [t('log.when'), (c) => <Time ms={c.at} />],
          [t('privacy.center.purposes.purpose'), (c) => t(`privacy.switch.${c.purpose}`)],
          [t('privacy.center.purposes.change'), (c) => `${onOff(c.from)} → ${onOff(c.to)}`],
          [t('privacy.center.receipts.channel'), (c) => known(t, `privacy.center.channel.${c.channel}`, c.channel)],
        ]}
      />
    </section>
  );
}

/* ---------------------------------------------------------------- who received my data */

/* A card with one paged list of the privacy API as a table. */
function ListSection({ id, title, hint, empty, path, field, columns }) {
  const pages = usePages(path, field);
  return (
    <section class="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      <p class="hint">{hint}</p>
      <PagedTable pages={pages} label={title} empty={empty} columns={columns} />
    </section>
  );
}

function DisclosuresSection() {
  const { t } = useI18n();
  return (
    <ListSection
      id="pc-disclosures"
      title={t('privacy.center.disclosures.title')}
      hint={t('privacy.center.disclosures.hint')}
      empty={t('privacy.center.disclosures.empty')}
      path="/api/v1/me/privacy/disclosures"
      field="disclosures"
      columns={[
        [t('log.when'), (d) => <Time ms={d.at} />],
        [t('privacy.center.disclosures.to'), (d) => d.recipient_system],
        [
          t('privacy.center.disclosures.what'),
          (d) => (d.data_types || []).map((x) => known(t, `privacy.center.data.${x}`, x)).join(', '),
        ],
        [t('privacy.center.disclosures.why'), (d) => known(t, `privacy.center.why.${d.purpose}`, d.purpose)],
        [t('privacy.center.disclosures.basis'), (d) => known(t, `privacy.basis.${d.legal_basis}`, d.legal_basis)],
      ]}
    />
  );
}

function StaffAccessSection() {
  const { t } = useI18n();
  return (
    <ListSection
      id="pc-staff"
      title={t('privacy.center.staff.title')}
      hint={t('privacy.center.staff.hint')}
      empty={t('privacy.center.staff.empty')}
      path="/api/v1/me/privacy/staff-access"
      field="accesses"
      columns={[
        [t('log.when'), (a) => <Time ms={a.at} />],
        [t('privacy.center.staff.role'), (a) => known(t, `staff.role.${a.role}`, a.role)],
        [t('log.what'), (a) => known(t, `log.${a.action}`, a.action)],
        [t('privacy.center.staff.fields'), (a) => (a.fields || []).join(', ') || '—'],
        [t('privacy.center.staff.purpose'), (a) => a.purpose || '—'],
      ]}
    />
  );
}

export function PrivacyPage() {
  const { t } = useI18n();
  return (
    <Page title={t('privacy.center.title')} class="privacy">
      <p class="lead">{t('privacy.center.lead')}</p>
      <InventorySection />
      <PoliciesSection />
      <InboxSection />
      <PurposesSection />
      <RequestsSection />
      <DisclosuresSection />
      <StaffAccessSection />
      <ExportSection />
      <CancelSection />
    </Page>
  );
}

/* ---------------------------------------------------------------- the consent window */

function ConsentDialog({ consent, onDone }) {
  const { t } = useI18n();
  const session = useSession();
  const { navigate } = useRouter();
  const ref = useRef(null);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const docs = consent.documents.filter((d) => d.must_accept && d.in_force);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.open && d.close();
  }, []);
  const accept = async () => {
    setBusy(true);
    setProblem(null);
    try {
      await acceptAll(docs);
      onDone();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      setProblem(e);
    } finally {
      setBusy(false);
    }
  };
  const signOut = async () => {
    await session.signOut().catch(() => {});
    onDone();
    navigate('/sign-in');
  };
  return (
    <dialog ref={ref} class="consent" aria-labelledby="consent-h" onCancel={(e) => e.preventDefault()}>
      <h2 id="consent-h">{t('privacy.center.consent.title')}</h2>
      <p>{t('privacy.center.consent.lead')}</p>
      {docs.map((d) => (
        <section key={d.document} class="policy" data-document={d.document}>
          <h3>
            {t('privacy.center.receipts.version', { document: t(`policy.document.${d.document}`), version: d.in_force.version })}
          </h3>
          <p class="hint">
            {d.accepted
              ? t('privacy.center.consent.since', { version: d.accepted.version })
              : t('privacy.center.consent.full')}
          </p>
          <h4>{d.in_force.title}</h4>
          <DiffText oldText={d.accepted ? d.accepted.body : null} newText={d.in_force.body} />
        </section>
      ))}
      <LoadError error={problem} />
      <p class="hint">{t('privacy.center.consent.choices')}</p>
      <div class="actions">
        <button type="button" class="button primary" disabled={busy} onClick={accept}>
          {t('privacy.center.consent.accept')}
        </button>
        <a class="button" href="/privacy">
          {t('privacy.center.title')}
        </a>
        <button type="button" class="button" disabled={busy} onClick={signOut}>
          {t('auth.sign-out')}
        </button>
      </div>
    </dialog>
  );
}

/*
 * Shows the consent window when the signed-in user must accept a policy:
 * checked at sign-in and whenever the API answers consent-required. The
 * privacy center itself stays usable without it (accepting is possible
 * there too, and so are export and cancellation).
 */
export function ConsentGate() {
  const session = useSession();
  const { path } = useRouter();
  const [consent, setConsent] = useState(null);
  const userId = session.user?.id;
  const check = useCallback(async () => {
    if (!userId) return setConsent(null);
    try {
      const c = await get('/api/v1/me/privacy/consent');
      setConsent(c.consent_required ? c : null);
    } catch {
      /* the window waits for the next consent-required answer */
    }
  }, [userId]);
  useEffect(() => {
    check();
    onConsentRequired(check);
    return () => onConsentRequired(null);
  }, [check]);
  // Accepted in the privacy center meanwhile? Ask again on the way out.
  useEffect(() => {
    if (consent) check();
  }, [path]);
  if (!consent || !userId || path === '/privacy') return null;
  return <ConsentDialog consent={consent} onDone={() => setConsent(null)} />;
}
