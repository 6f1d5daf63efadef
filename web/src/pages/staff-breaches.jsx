// The breach register of the staff console (/staff/breaches and
// /staff/breaches/:id), for compliance staff: open an incident with the
// accounts it concerns, watch the countdowns (the regulator within 4 hours
// of detecting a major incident and within 72 hours of any; users without
// undue delay), send the notices to the affected users, download the
// regulator report (Chinese and English) and record that it was sent.
// Countdowns run on the server's clock: the page keeps the difference
// between the server's "now" and the browser's.
import { useEffect, useState } from 'preact/hooks';
import { patch, post } from '../api.js';
import { Check, Field, Form, Notice, Submit, useForm } from '../forms.jsx';
import { useI18n } from '../i18n.js';
import { LoadError, useLoad } from '../load.jsx';
import { useRouter } from '../router.js';
import { Time } from './page.jsx';
import { BreachFacts } from './requests.jsx';
import { StaffShell, useAction } from './staff.jsx';

const CATEGORIES = ['identity', 'contact', 'credentials', 'profile', 'account', 'behaviour', 'device', 'network', 'communication', 'content', 'payment', 'verification'];

/* The server's now, ticking every second (skew measured at load). */
function useServerNow(serverNow) {
  const [now, setNow] = useState(serverNow || Date.now());
  useEffect(() => {
    if (!serverNow) return undefined;
    const skew = serverNow - Date.now();
    setNow(Date.now() + skew);
    const id = setInterval(() => setNow(Date.now() + skew), 1000);
    return () => clearInterval(id);
  }, [serverNow]);
  return now;
}

function span(t, ms) {
  const m = Math.floor(Math.abs(ms) / 60000);
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  return d ? t('staff.time.dh', { d, h }) : t('staff.time.hm', { h, m: m % 60 });
}

/* "3 h 12 min left" until due, or "overdue by ..." once past; or when it was done. */
function Countdown({ label, due, done, now }) {
  const { t } = useI18n();
  if (!due) return null;
  const left = due - now;
  return (
    <div data-countdown={label} data-overdue={!done && left <= 0 ? 'yes' : 'no'}>
      <dt>{t(`staff.breach.${label}`)}</dt>
      <dd>
        <Time ms={due} />{' '}
        {done ? (
          <span class="row-meta">{t('staff.breach.done')}</span>
        ) : left > 0 ? (
          <span class="row-meta" role="timer">
            {t('staff.breach.left', { time: span(t, left) })}
          </span>
        ) : (
          <span class="badge" role="timer">
            {t('staff.breach.late', { time: span(t, left) })}
          </span>
        )}
      </dd>
    </div>
  );
}

function Countdowns({ b, now }) {
  const { t } = useI18n();
  const reg = b.regulator;
  const u = b.users;
  return (
    <dl class="facts">
      <Countdown label="initial_due" due={reg.initial_due_at} done={reg.reported_at} now={now} />
      <Countdown label="due" due={reg.due_at} done={reg.reported_at} now={now} />
      <div data-countdown="users">
        <dt>{t('staff.breach.users')}</dt>
        <dd>
          {t('staff.breach.users.count', { notified: u.notified, affected: u.affected, pending: u.pending })}{' '}
          {u.pending > 0 && (
            <span class="badge">{t('staff.breach.undue', { time: span(t, now - b.detected_at) })}</span>
          )}
        </dd>
      </div>
    </dl>
  );
}

/* A local date-time input's value as ms (the browser's zone), or NaN. */
const fromLocal = (s) => (s ? new Date(s).getTime() : NaN);
const idList = (s) =>
  s
    .split(/[\s,，]+/)
    .map((x) => x.trim())
    .filter(Boolean);

function NewIncident({ onOpened }) {
  const { t } = useI18n();
  const form = useForm({
    title: '',
    description: '',
    cause: '',
    impact: '',
    detected_at: '',
    occurred_at: '',
    major: false,
    measures: '',
    user_advice: '',
    contact: '',
    user_ids: '',
    all_users: false,
    ...Object.fromEntries(CATEGORIES.map((c) => [`cat_${c}`, false])),
  });
  const submit = () =>
    form.run(async (v) => {
      const body = {
        title: v.title.trim(),
        description: v.description.trim(),
        detected_at: fromLocal(v.detected_at) || 0,
        major: !!v.major,
        categories: CATEGORIES.filter((c) => v[`cat_${c}`]),
        contact: v.contact.trim(),
        user_ids: idList(v.user_ids),
        all_users: !!v.all_users,
      };
      for (const k of ['cause', 'impact', 'measures', 'user_advice']) if (v[k].trim()) body[k] = v[k].trim();
      if (v.occurred_at) body.occurred_at = fromLocal(v.occurred_at);
      onOpened(await post('/api/v1/staff/privacy/breaches', body));
    });
  return (
    <Form form={form} onSubmit={submit} label={t('staff.breaches.new')}>
      <Field form={form} name="title" label={t('staff.breach.f.title')} maxLength={200} required />
      <Field form={form} name="description" as="textarea" rows={3} label={t('staff.breach.f.description')} required />
      <Field form={form} name="detected_at" type="datetime-local" label={t('staff.breach.f.detected')} required />
      <Field form={form} name="occurred_at" type="datetime-local" label={t('staff.breach.f.occurred')} optional />
      <Check form={form} name="major" label={t('staff.breach.f.major')} />
      <fieldset class="choice" data-field="categories">
        <legend>{t('staff.breach.f.categories')}</legend>
        {CATEGORIES.map((c) => (
          <Check key={c} form={form} name={`cat_${c}`} label={t(`privacy.category.${c}`)} />
        ))}
      </fieldset>
      <Field form={form} name="cause" as="textarea" rows={2} label={t('staff.breach.f.cause')} optional />
      <Field form={form} name="impact" as="textarea" rows={2} label={t('staff.breach.f.impact')} optional />
      <Field form={form} name="measures" as="textarea" rows={2} label={t('staff.breach.f.measures')} optional />
      <Field form={form} name="user_advice" as="textarea" rows={2} label={t('staff.breach.f.advice')} optional />
      <Field form={form} name="contact" label={t('staff.breach.f.contact')} maxLength={300} required />
      <Field form={form} name="user_ids" as="textarea" rows={2} label={t('staff.breach.f.users')} hint={t('staff.breach.f.users.hint')} optional />
      <Check form={form} name="all_users" label={t('staff.breach.f.all')} />
      <Submit form={form}>{t('staff.breach.f.submit')}</Submit>
    </Form>
  );
}

export function StaffBreachesPage() {
  const { t } = useI18n();
  const { navigate } = useRouter();
  const list = useLoad('/api/v1/staff/privacy/breaches');
  const now = useServerNow(list.data?.now);
  return (
    <StaffShell current="breaches" title={t('staff.breaches.title')}>
      <p class="lead">{t('staff.breaches.lead')}</p>
      <LoadError error={list.error} />
      {list.data && list.data.incidents.length === 0 && <p class="empty">{t('staff.queue.empty')}</p>}
      {(list.data?.incidents || []).map((b) => (
        <section key={b.id} class="card" data-incident={b.id} aria-labelledby={`st-b-${b.id}`}>
          <h2 id={`st-b-${b.id}`}>
            <a href={`/staff/breaches/${b.id}`}>
              #{b.id} {b.title}
            </a>{' '}
            {b.major && <span class="badge">{t('staff.breach.major')}</span>}
            <span class="badge">{t(`staff.breach.status.${b.status}`)}</span>
          </h2>
          <p class="row-meta">
            {t('staff.breach.detected')} <Time ms={b.detected_at} />
          </p>
          <Countdowns b={b} now={now} />
        </section>
      ))}
      <section class="card" aria-labelledby="st-b-new">
        <h2 id="st-b-new">{t('staff.breaches.new')}</h2>
        <NewIncident onOpened={(b) => navigate(`/staff/breaches/${b.id}`)} />
      </section>
    </StaffShell>
  );
}

export function StaffBreachPage({ id }) {
  const { t } = useI18n();
  const valid = /^[1-9][0-9]{0,17}$/.test(id);
  const data = useLoad(valid ? `/api/v1/staff/privacy/breaches/${id}` : null);
  const now = useServerNow(data.data?.now);
  const act = useAction();
  const addForm = useForm({ user_ids: '' });
  const refForm = useForm({ reference: '' });
  const b = data.data;
  const path = `/api/v1/staff/privacy/breaches/${id}`;
  const update = (fn, message) =>
    act.run(async () => {
      await fn();
      await data.reload();
    }, message);
  const addAffected = () =>
    addForm.run(async (v) => {
      await post(`${path}/affected`, { user_ids: idList(v.user_ids) });
      addForm.setValues({ user_ids: '' });
      await data.reload();
    });
  const markReported = () =>
    refForm.run(async (v) => {
      const ref = v.reference.trim();
      await post(`${path}/regulator-report`, ref ? { reference: ref } : {});
      await data.reload();
    });
  return (
    <StaffShell current="breaches" title={b ? `#${b.id} ${b.title}` : t('staff.breaches.title')}>
      <LoadError error={data.error} />
      {b && (
        <>
          <p class="lead">
            {b.major && <span class="badge">{t('staff.breach.major')}</span>} <span class="badge">{t(`staff.breach.status.${b.status}`)}</span>{' '}
            {t('staff.breach.detected')} <Time ms={b.detected_at} />
          </p>
          <section class="card" aria-labelledby="st-b-count">
            <h2 id="st-b-count">{t('staff.breach.countdowns')}</h2>
            <Countdowns b={b} now={now} />
            {b.regulator.reported_at && (
              <p>{t('staff.breach.reported', { reference: b.regulator.reference || '—' })}</p>
            )}
          </section>
          <section class="card" aria-labelledby="st-b-facts">
            <h2 id="st-b-facts">{t('staff.breach.facts')}</h2>
            <p class="row-meta">{b.categories.map((c) => t(`privacy.category.${c}`)).join(', ')}</p>
            <BreachFacts incident={b} />
          </section>
          <section class="card" aria-labelledby="st-b-act">
            <h2 id="st-b-act">{t('staff.breach.actions')}</h2>
            <div class="actions">
              <button
                type="button"
                class="button primary"
                disabled={act.busy || b.users.pending === 0}
                onClick={() => update(() => post(`${path}/notify`), t('staff.breach.notify.done', { count: b.users.pending }))}
              >
                {t('staff.breach.notify', { count: b.users.pending })}
              </button>
              <a class="button" href={`${path}/report`} download>
                {t('staff.breach.report.html')}
              </a>
              <a class="button" href={`${path}/report?format=text`} download>
                {t('staff.breach.report.text')}
              </a>
              <button
                type="button"
                class="button"
                disabled={act.busy}
                onClick={() => update(() => patch(path, { status: b.status === 'open' ? 'closed' : 'open' }), t('staff.breach.saved'))}
              >
                {t(b.status === 'open' ? 'staff.breach.close' : 'staff.breach.reopen')}
              </button>
            </div>
            <Form form={addForm} onSubmit={addAffected} label={t('staff.breach.add')}>
              <Field form={addForm} name="user_ids" as="textarea" rows={2} label={t('staff.breach.f.users')} hint={t('staff.breach.f.users.hint')} />
              <Submit form={addForm}>{t('staff.breach.add')}</Submit>
            </Form>
            {!b.regulator.reported_at && (
              <Form form={refForm} onSubmit={markReported} label={t('staff.breach.mark')}>
                <Field form={refForm} name="reference" label={t('staff.breach.reference')} maxLength={200} optional />
                <Submit form={refForm}>{t('staff.breach.mark')}</Submit>
              </Form>
            )}
            <LoadError error={act.error} />
            <Notice>{act.done}</Notice>
          </section>
        </>
      )}
    </StaffShell>
  );
}
