// "My requests" (/privacy/requests), reached from the privacy center: file
// a complaint, an objection or a question about my data and follow it with
// its deadlines (acknowledged within 5 working days, resolved within 15);
// ask staff to correct verified information (within 2 working days) and
// see what is verified; read the security incidents I was told about. One
// request with its conversation is /privacy/requests/:id.
import { useState } from 'preact/hooks';
import { post } from '../api.js';
import { Field, Form, Notice, Submit, useForm } from '../forms.jsx';
import { useI18n } from '../i18n.js';
import { LoadError, useLoad, useNewestFirst } from '../load.jsx';
import { Page, Time, formatTime } from './page.jsx';
import { PURPOSES } from './privacy.jsx';

export const TICKET_KINDS = ['complaint', 'objection', 'access', 'other'];
export const CORRECTION_FIELDS = ['real_name', 'company_name', 'credit_code', 'company_address', 'legal_representative'];
const DATA_PURPOSES = ['account', 'security', 'communication', 'marketing', 'personalisation'];

/* The name of a purpose a ticket names: a switch, or a purpose of the inventory. */
export function purposeLabel(t, p) {
  const key = `privacy.switch.${p}`;
  return t(key) === key ? t(`privacy.purpose.${p}`) : t(key);
}

/* The date a deadline (the midnight that ends it) falls on, in the reader's language. */
export function dueDate(lang, dueAt) {
  return formatTime(lang, dueAt - 1, true);
}

/* "Acknowledgement due by 7 Feb 2025 · 3 working days left" or "Overdue". */
export function Deadline({ item, kind }) {
  const { t, lang } = useI18n();
  if (!item.due_at) return null;
  return (
    <span class="row-meta" data-overdue={item.overdue ? 'yes' : 'no'}>
      {t(`requests.due.${kind}`, { date: dueDate(lang, item.due_at) })}
      {' · '}
      {item.overdue ? (
        <span class="badge">{t('requests.overdue')}</span>
      ) : (
        t('requests.due.left', { count: item.working_days_left })
      )}
    </span>
  );
}

/* ---------------------------------------------------------------- tickets */

function TicketForm({ onFiled }) {
  const { t, lang } = useI18n();
  const form = useForm({ kind: 'complaint', purpose: '', body: '' });
  const submit = () =>
    form.run(async (v) => {
      const body = { kind: v.kind, body: v.body.trim() };
      if (v.purpose) body.purpose = v.purpose;
      const tk = await post('/api/v1/me/privacy/tickets', body);
      form.setValues({ kind: v.kind, purpose: '', body: '' });
      onFiled(t('requests.ticket.sent', { date: dueDate(lang, tk.ack_due_at) }));
    });
  return (
    <Form form={form} onSubmit={submit} label={t('requests.ticket.new')}>
      <Field form={form} name="kind" as="select" label={t('requests.ticket.kind')}>
        {TICKET_KINDS.map((k) => (
          <option key={k} value={k}>
            {t(`requests.kind.${k}`)}
          </option>
        ))}
      </Field>
      <Field form={form} name="purpose" as="select" label={t('requests.ticket.purpose')} optional>
        <option value="">{t('requests.ticket.purpose.none')}</option>
        {PURPOSES.map((p) => (
          <option key={p} value={p}>
            {t(`privacy.switch.${p}`)}
          </option>
        ))}
        {DATA_PURPOSES.map((p) => (
          <option key={p} value={p}>
            {t(`privacy.purpose.${p}`)}
          </option>
        ))}
      </Field>
      <Field form={form} name="body" as="textarea" rows={5} maxLength={5000} label={t('requests.ticket.body')} required />
      <Submit form={form}>{t('requests.ticket.submit')}</Submit>
    </Form>
  );
}

function TicketsSection() {
  const { t } = useI18n();
  const tickets = useNewestFirst('/api/v1/me/privacy/tickets', 'tickets');
  const [done, setDone] = useState('');
  return (
    <section class="card" aria-labelledby="rq-tickets">
      <h2 id="rq-tickets">{t('requests.ticket.new')}</h2>
      <p class="hint">{t('requests.ticket.hint')}</p>
      <TicketForm
        onFiled={(msg) => {
          setDone(msg);
          tickets.reload();
        }}
      />
      <Notice>{done}</Notice>
      <h3>{t('requests.tickets.title')}</h3>
      <LoadError error={tickets.error} />
      {!tickets.loading && !tickets.error && tickets.items.length === 0 && <p class="empty">{t('requests.tickets.empty')}</p>}
      <ul class="rows" aria-label={t('requests.tickets.title')}>
        {tickets.items.map((x) => (
          <li key={x.id} class="row" data-ticket={x.id} data-status={x.status}>
            <div class="row-main">
              <a href={`/privacy/requests/${x.id}`}>{t('requests.ticket.title', { id: x.id, kind: t(`requests.kind.${x.kind}`) })}</a>
              <span class="badge">{t(`requests.status.${x.status}`)}</span>
              <span class="row-meta">
                {t('requests.ticket.filed')} <Time ms={x.created_at} />
              </span>
            </div>
            <Deadline item={x} kind={x.status === 'open' ? 'ack' : 'resolve'} />
          </li>
        ))}
      </ul>
      {tickets.next && (
        <button type="button" class="button" onClick={tickets.more} disabled={tickets.loading}>
          {t('log.more')}
        </button>
      )}
    </section>
  );
}

/* ---------------------------------------------------------------- corrections */

function CorrectionsSection() {
  const { t, lang } = useI18n();
  const data = useLoad('/api/v1/me/privacy/corrections');
  const form = useForm({ field: 'real_name', value: '', evidence: '' });
  const [done, setDone] = useState('');
  const submit = () =>
    form.run(async (v) => {
      const r = await post('/api/v1/me/privacy/corrections', { field: v.field, value: v.value.trim(), evidence: v.evidence.trim() });
      form.setValues({ field: v.field, value: '', evidence: '' });
      setDone(t('requests.correction.sent', { date: dueDate(lang, r.due_at) }));
      data.reload();
    });
  const requests = data.data?.requests || [];
  const verified = data.data?.verified || [];
  return (
    <section class="card" aria-labelledby="rq-corrections">
      <h2 id="rq-corrections">{t('requests.correction.new')}</h2>
      <p class="hint">{t('requests.correction.hint')}</p>
      <Form form={form} onSubmit={submit} label={t('requests.correction.new')}>
        <Field form={form} name="field" as="select" label={t('requests.correction.field')}>
          {CORRECTION_FIELDS.map((f) => (
            <option key={f} value={f}>
              {t(`requests.field.${f}`)}
            </option>
          ))}
        </Field>
        <Field form={form} name="value" label={t('requests.correction.value')} maxLength={200} required />
        <Field
          form={form}
          name="evidence"
          as="textarea"
          rows={3}
          maxLength={2000}
          label={t('requests.correction.evidence')}
          hint={t('requests.correction.evidence.hint')}
          required
        />
        <Submit form={form}>{t('requests.correction.submit')}</Submit>
      </Form>
      <Notice>{done}</Notice>
      <LoadError error={data.error} />
      <h3>{t('requests.verified.title')}</h3>
      {verified.length === 0 ? (
        <p class="empty">{t('requests.verified.empty')}</p>
      ) : (
        <dl class="facts">
          {verified.map((v) => (
            <div key={v.field} data-field={v.field}>
              <dt>{t(`requests.field.${v.field}`)}</dt>
              <dd>{v.value}</dd>
            </div>
          ))}
        </dl>
      )}
      <h3>{t('requests.corrections.title')}</h3>
      {requests.length === 0 && <p class="empty">{t('requests.corrections.empty')}</p>}
      <ul class="rows" aria-label={t('requests.corrections.title')}>
        {requests.map((r) => (
          <li key={r.id} class="row" data-correction={r.id} data-status={r.status}>
            <div class="row-main">
              <span>
                {t(`requests.field.${r.field}`)}: {r.value}
              </span>
              <span class="badge">{t(`requests.correction.status.${r.status}`)}</span>
              <span class="row-meta">
                <Time ms={r.created_at} />
              </span>
            </div>
            {r.status === 'pending' && <Deadline item={r} kind="correction" />}
            {r.reason && <p class="row-meta">{t('requests.correction.reason', { reason: r.reason })}</p>}
          </li>
        ))}
      </ul>
    </section>
  );
}

/* ---------------------------------------------------------------- incidents */

/* The four things a breach notice says, as a definition list. */
export function BreachFacts({ incident }) {
  const { t } = useI18n();
  const facts = [
    ['what', incident.description],
    ['impact', incident.impact],
    ['done', incident.measures],
    ['advice', incident.user_advice],
    ['contact', incident.contact],
  ].filter(([, v]) => v);
  return (
    <dl class="facts">
      {facts.map(([k, v]) => (
        <div key={k}>
          <dt>{t(`requests.breach.${k}`)}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function BreachesSection() {
  const { t } = useI18n();
  const data = useLoad('/api/v1/me/privacy/breaches');
  const list = data.data?.incidents || [];
  return (
    <section class="card" aria-labelledby="rq-breaches">
      <h2 id="rq-breaches">{t('requests.breaches.title')}</h2>
      <LoadError error={data.error} />
      {data.data && list.length === 0 && <p class="empty">{t('requests.breaches.empty')}</p>}
      {list.map((b) => (
        <article key={b.id} class="policy" data-incident={b.id} aria-labelledby={`rq-breach-${b.id}`}>
          <h3 id={`rq-breach-${b.id}`}>{b.title}</h3>
          <p class="row-meta">
            {t('requests.breach.detected')} <Time ms={b.detected_at} /> · {t('requests.breach.notified')} <Time ms={b.notified_at} />
          </p>
          <BreachFacts incident={b} />
        </article>
      ))}
    </section>
  );
}

export function RequestsPage() {
  const { t } = useI18n();
  return (
    <Page title={t('requests.title')} class="privacy requests">
      <p class="lead">{t('requests.lead')}</p>
      <p>
        <a href="/privacy">{t('requests.back-to-center')}</a>
      </p>
      <TicketsSection />
      <CorrectionsSection />
      <BreachesSection />
    </Page>
  );
}

/* ---------------------------------------------------------------- one ticket */

/* The messages of a ticket, oldest first, the writer shown by role. */
export function Thread({ ticket, staffView }) {
  const { t } = useI18n();
  const who = (m) =>
    m.author === 'user'
      ? staffView
        ? t('requests.thread.user')
        : t('requests.thread.you')
      : t('requests.thread.staff', { role: t(`staff.role.${m.role || 'support'}`) });
  return (
    <ol class="rows thread" aria-label={t('requests.thread.title')}>
      {(ticket.messages || []).map((m) => (
        <li key={m.id} class="row" data-author={m.author}>
          <div class="row-main">
            <strong>{who(m)}</strong>
            <span class="row-meta">
              <Time ms={m.created_at} />
            </span>
            <p class="post-body">{m.body}</p>
          </div>
        </li>
      ))}
    </ol>
  );
}

export function TicketPage({ id }) {
  const { t } = useI18n();
  const valid = /^[1-9][0-9]{0,17}$/.test(id);
  const data = useLoad(valid ? `/api/v1/me/privacy/tickets/${id}` : null);
  const form = useForm({ body: '' });
  const tk = data.data;
  const send = () =>
    form.run(async (v) => {
      const r = await post(`/api/v1/me/privacy/tickets/${id}/messages`, { body: v.body.trim() });
      data.setData(() => r);
      form.setValues({ body: '' });
    });
  const title = tk ? t('requests.ticket.title', { id: tk.id, kind: t(`requests.kind.${tk.kind}`) }) : t('requests.title');
  return (
    <Page title={title} class="privacy requests">
      <p>
        <a href="/privacy/requests">{t('requests.back')}</a>
      </p>
      {!valid && <p class="lead">{t('problem.not-found.title')}</p>}
      <LoadError error={data.error} />
      {tk && (
        <>
          <p class="lead">
            <span class="badge" data-status={tk.status}>
              {t(`requests.status.${tk.status}`)}
            </span>{' '}
            {t('requests.ticket.filed')} <Time ms={tk.created_at} />
          </p>
          <Deadline item={tk} kind={tk.status === 'open' ? 'ack' : 'resolve'} />
          <section class="card" aria-labelledby="rq-text">
            <h2 id="rq-text">{t('requests.ticket.text')}</h2>
            {tk.purpose && <p class="row-meta">{t('requests.ticket.about', { purpose: purposeLabel(t, tk.purpose) })}</p>}
            <p class="post-body">{tk.body}</p>
          </section>
          <section class="card" aria-labelledby="rq-thread">
            <h2 id="rq-thread">{t('requests.thread.title')}</h2>
            {tk.messages.length === 0 && <p class="empty">{t('requests.thread.empty')}</p>}
            <Thread ticket={tk} />
            {tk.status === 'resolved' ? (
              <p class="hint">{t('requests.ticket.closed')}</p>
            ) : (
              <Form form={form} onSubmit={send} label={t('requests.thread.add')}>
                <Field form={form} name="body" as="textarea" rows={3} maxLength={5000} label={t('requests.thread.add')} required />
                <Submit form={form}>{t('requests.thread.send')}</Submit>
              </Form>
            )}
          </section>
        </>
      )}
    </Page>
  );
}

/* The privacy center's card that leads here. */
export function RequestsSection() {
  const { t } = useI18n();
  return (
    <section class="card" aria-labelledby="pc-requests">
      <h2 id="pc-requests">{t('requests.title')}</h2>
      <p class="hint">{t('requests.card.hint')}</p>
      <p>
        <a class="button" href="/privacy/requests">
          {t('requests.card.open')}
        </a>
      </p>
    </section>
  );
}
