// The staff console (/staff, after the staff sign-in): the roles of the
// signed-in staff member and the privacy center's queues, next deadline
// first with what is overdue flagged — complaints and objections
// (/staff/complaints), corrections of verified information
// (/staff/corrections), guardians' requests about minors (/staff/minors);
// the breach register is staff-breaches.jsx. Opening one request shows the
// user's text: the server records that read in the audit log, which the
// user sees, and the page says so.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post } from '../api.js';
import { Check, Field, Form, Notice, Submit, useForm } from '../forms.jsx';
import { useI18n } from '../i18n.js';
import { LoadError, useLoad } from '../load.jsx';
import { useSession } from '../session.js';
import { Page, Time } from './page.jsx';
import { Deadline, Thread, dueDate, purposeLabel } from './requests.jsx';

export const STAFF_SECTIONS = [
  { slug: '', key: 'staff.nav.home' },
  { slug: 'complaints', key: 'staff.nav.complaints', api: '/api/v1/staff/privacy/tickets', list: 'tickets' },
  { slug: 'corrections', key: 'staff.nav.corrections', api: '/api/v1/staff/privacy/corrections', list: 'corrections' },
  { slug: 'minors', key: 'staff.nav.minors' },
  { slug: 'breaches', key: 'staff.nav.breaches' },
];

/* A page of the console: its title and the console's sub-navigation. */
export function StaffShell({ current, title, children }) {
  const { t } = useI18n();
  return (
    <Page title={title} class="staff">
      <nav class="subnav" aria-label={t('staff.nav.label')}>
        <ul>
          {STAFF_SECTIONS.map((s) => (
            <li key={s.slug}>
              <a href={`/staff${s.slug ? `/${s.slug}` : ''}`} aria-current={s.slug === current ? 'page' : undefined}>
                {t(s.key)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {children}
    </Page>
  );
}

/* Runs an action of a detail page: { busy, error, done, run(fn, message) }. */
export function useAction() {
  const [state, setState] = useState({ busy: false, error: null, done: '' });
  const run = async (fn, message) => {
    setState({ busy: true, error: null, done: '' });
    try {
      await fn();
      setState({ busy: false, error: null, done: message });
      return true;
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      setState({ busy: false, error: e, done: '' });
      return false;
    }
  };
  return { ...state, run };
}

/* ---------------------------------------------------------------- console */

function QueueCard({ section }) {
  const { t } = useI18n();
  const data = useLoad(section.api);
  if (data.error?.status === 403) return null; // not one of this member's queues
  const c = data.data?.counts;
  return (
    <li class="row" data-queue={section.slug}>
      <div class="row-main">
        <a href={`/staff/${section.slug}`}>{t(section.key)}</a>
        {c && <span class="row-meta">{t('staff.console.open', { count: c.open })}</span>}
        {c && c.overdue > 0 && <span class="badge">{t('staff.console.overdue', { count: c.overdue })}</span>}
      </div>
    </li>
  );
}

function CalendarCard() {
  const { t, lang } = useI18n();
  const cal = useLoad('/api/v1/staff/privacy/calendar');
  if (!cal.data) return <LoadError error={cal.error} />;
  const d = cal.data.deadlines_if_filed_now;
  const today = cal.data.next_days[0];
  return (
    <section class="card" aria-labelledby="staff-cal">
      <h2 id="staff-cal">{t('staff.console.calendar')}</h2>
      <p>{t(today.working ? 'staff.console.today-working' : 'staff.console.today-off', { date: today.date })}</p>
      <p class="hint">
        {t('staff.console.calendar.hint', {
          ack: dueDate(lang, d.acknowledge),
          resolve: dueDate(lang, d.resolve),
          correction: dueDate(lang, d.correction),
        })}
      </p>
    </section>
  );
}

export function StaffConsole() {
  const { t } = useI18n();
  const { user } = useSession();
  const [roles, setRoles] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!user) return;
    get('/api/v1/staff/session').then(
      (s) => setRoles(s.roles),
      (e) => setError(e),
    );
  }, [user]);
  return (
    <StaffShell current="" title={t('staff.title')}>
      <LoadError error={error} />
      {roles && (
        <>
          <p class="lead">{t('staff.roles', { roles: roles.map((r) => t(`staff.role.${r}`)).join(', ') })}</p>
          <section class="card" aria-labelledby="staff-queues">
            <h2 id="staff-queues">{t('staff.console.queues')}</h2>
            <ul class="rows">
              {STAFF_SECTIONS.filter((s) => s.api).map((s) => (
                <QueueCard key={s.slug} section={s} />
              ))}
              {['minors', 'breaches'].map((slug) => (
                <li key={slug} class="row" data-queue={slug}>
                  <a href={`/staff/${slug}`}>{t(`staff.nav.${slug}`)}</a>
                </li>
              ))}
            </ul>
          </section>
          <CalendarCard />
        </>
      )}
    </StaffShell>
  );
}

/* ---------------------------------------------------------------- queues */

const STATES = ['open', 'overdue', 'closed', 'all'];

/* The queue of a section (complaints or corrections) as a table. */
function Queue({ section, columns }) {
  const { t } = useI18n();
  const [state, setState] = useState('open');
  const data = useLoad(`${section.api}?state=${state}`);
  const rows = data.data?.[section.list] || [];
  return (
    <>
      <div class="tabs" role="group" aria-label={t('staff.queue.state')}>
        {STATES.map((s) => (
          <button key={s} type="button" class="button" aria-pressed={s === state ? 'true' : 'false'} onClick={() => setState(s)}>
            {t(`staff.queue.state.${s}`)}
            {data.data && s !== 'closed' && s !== 'all' ? ` (${data.data.counts[s]})` : ''}
          </button>
        ))}
      </div>
      <LoadError error={data.error} />
      {data.data && rows.length === 0 && <p class="empty">{t('staff.queue.empty')}</p>}
      {rows.length > 0 && (
        <table class="log" aria-label={t(section.key)}>
          <thead>
            <tr>
              {columns.map(([h]) => (
                <th scope="col" key={h}>
                  {t(h)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-id={r.id} data-overdue={r.overdue ? 'yes' : 'no'}>
                {columns.map(([h, cell]) => (
                  <td key={h}>{cell(r)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function Flags({ item }) {
  const { t } = useI18n();
  return (
    <>
      {item.escalated && <span class="badge">{t('staff.escalated')}</span>}
    </>
  );
}

export function StaffComplaintsPage() {
  const { t } = useI18n();
  const section = STAFF_SECTIONS[1];
  return (
    <StaffShell current="complaints" title={t('staff.nav.complaints')}>
      <p class="lead">{t('staff.complaints.lead')}</p>
      <Queue
        section={section}
        columns={[
          ['staff.col.request', (r) => <a href={`/staff/complaints/${r.id}`}>#{r.id}</a>],
          ['staff.col.kind', (r) => t(`requests.kind.${r.kind}`)],
          ['staff.col.user', (r) => r.user_id],
          ['staff.col.filed', (r) => <Time ms={r.created_at} />],
          ['staff.col.status', (r) => t(`requests.status.${r.status}`)],
          [
            'staff.col.due',
            (r) => (
              <>
                <Deadline item={r} kind={r.status === 'open' ? 'ack' : 'resolve'} /> <Flags item={r} />
              </>
            ),
          ],
        ]}
      />
    </StaffShell>
  );
}

export function StaffCorrectionsPage() {
  const { t } = useI18n();
  const section = STAFF_SECTIONS[2];
  return (
    <StaffShell current="corrections" title={t('staff.nav.corrections')}>
      <p class="lead">{t('staff.corrections.lead')}</p>
      <Queue
        section={section}
        columns={[
          ['staff.col.request', (r) => <a href={`/staff/corrections/${r.id}`}>#{r.id}</a>],
          ['staff.col.field', (r) => t(`requests.field.${r.field}`)],
          ['staff.col.user', (r) => r.user_id],
          ['staff.col.filed', (r) => <Time ms={r.created_at} />],
          ['staff.col.status', (r) => t(`requests.correction.status.${r.status}`)],
          [
            'staff.col.due',
            (r) => (
              <>
                <Deadline item={r} kind="correction" /> <Flags item={r} />
              </>
            ),
          ],
        ]}
      />
    </StaffShell>
  );
}

/* ---------------------------------------------------------------- one complaint */

const validId = (id) => /^[1-9][0-9]{0,17}$/.test(id);

export function StaffComplaintPage({ id }) {
  const { t } = useI18n();
  const data = useLoad(validId(id) ? `/api/v1/staff/privacy/tickets/${id}` : null);
  const act = useAction();
  const form = useForm({ body: '' });
  const tk = data.data;
  const call = (action, message) =>
    act.run(async () => {
      const body = form.values.body.trim();
      const r = await post(`/api/v1/staff/privacy/tickets/${id}/${action}`, body ? { body } : {});
      data.setData(() => r);
      form.setValues({ body: '' });
    }, t(message));
  return (
    <StaffShell current="complaints" title={t('staff.complaint.title', { id })}>
      <p class="hint">{t('staff.audited')}</p>
      <LoadError error={data.error} />
      {tk && (
        <>
          <dl class="facts">
            <div>
              <dt>{t('staff.col.kind')}</dt>
              <dd>{t(`requests.kind.${tk.kind}`)}</dd>
            </div>
            <div>
              <dt>{t('staff.col.user')}</dt>
              <dd>{tk.user_id}</dd>
            </div>
            <div>
              <dt>{t('staff.col.status')}</dt>
              <dd data-status={tk.status}>{t(`requests.status.${tk.status}`)}</dd>
            </div>
            <div>
              <dt>{t('staff.col.filed')}</dt>
              <dd>
                <Time ms={tk.created_at} />
              </dd>
            </div>
            {tk.purpose && (
              <div>
                <dt>{t('staff.col.purpose')}</dt>
                <dd>{purposeLabel(t, tk.purpose)}</dd>
              </div>
            )}
          </dl>
          <Deadline item={tk} kind={tk.status === 'open' ? 'ack' : 'resolve'} />
          <section class="card" aria-labelledby="st-text">
            <h2 id="st-text">{t('staff.complaint.text')}</h2>
            <p class="post-body">{tk.body}</p>
          </section>
          <section class="card" aria-labelledby="st-thread">
            <h2 id="st-thread">{t('requests.thread.title')}</h2>
            <Thread ticket={tk} staffView />
            {tk.status !== 'resolved' && (
              <Form form={form} onSubmit={() => call('reply', 'staff.complaint.replied')} label={t('staff.complaint.answer')}>
                <Field form={form} name="body" as="textarea" rows={4} maxLength={5000} label={t('staff.complaint.answer')} hint={t('staff.complaint.answer.hint')} />
                <div class="actions">
                  {tk.status === 'open' && (
                    <button type="button" class="button primary" disabled={act.busy} onClick={() => call('acknowledge', 'staff.complaint.acknowledged')}>
                      {t('staff.complaint.acknowledge')}
                    </button>
                  )}
                  <Submit form={form}>{t('staff.complaint.reply')}</Submit>
                  <button type="button" class="button" disabled={act.busy} onClick={() => call('resolve', 'staff.complaint.resolved')}>
                    {t('staff.complaint.resolve')}
                  </button>
                </div>
              </Form>
            )}
          </section>
        </>
      )}
      <LoadError error={act.error} />
      <Notice>{act.done}</Notice>
    </StaffShell>
  );
}

/* ---------------------------------------------------------------- one correction */

export function StaffCorrectionPage({ id }) {
  const { t } = useI18n();
  const data = useLoad(validId(id) ? `/api/v1/staff/privacy/corrections/${id}` : null);
  const act = useAction();
  const form = useForm({ reason: '' });
  const cr = data.data;
  const decide = (approve) =>
    act.run(async () => {
      const r = approve
        ? await post(`/api/v1/staff/privacy/corrections/${id}/approve`)
        : await post(`/api/v1/staff/privacy/corrections/${id}/reject`, { reason: form.values.reason.trim() });
      data.setData(() => r);
    }, t(approve ? 'staff.correction.approved' : 'staff.correction.rejected'));
  return (
    <StaffShell current="corrections" title={t('staff.correction.title', { id })}>
      <p class="hint">{t('staff.audited')}</p>
      <LoadError error={data.error} />
      {cr && (
        <>
          <dl class="facts">
            <div>
              <dt>{t('staff.col.user')}</dt>
              <dd>{cr.user_id}</dd>
            </div>
            <div>
              <dt>{t('staff.col.field')}</dt>
              <dd>{t(`requests.field.${cr.field}`)}</dd>
            </div>
            <div>
              <dt>{t('staff.correction.current')}</dt>
              <dd>{cr.current?.value || '—'}</dd>
            </div>
            <div>
              <dt>{t('requests.correction.value')}</dt>
              <dd data-field="value">{cr.value}</dd>
            </div>
            <div>
              <dt>{t('requests.correction.evidence')}</dt>
              <dd>{cr.evidence}</dd>
            </div>
            <div>
              <dt>{t('staff.col.status')}</dt>
              <dd data-status={cr.status}>{t(`requests.correction.status.${cr.status}`)}</dd>
            </div>
          </dl>
          {cr.status === 'pending' && <Deadline item={cr} kind="correction" />}
          {cr.reason && <p>{t('requests.correction.reason', { reason: cr.reason })}</p>}
          {cr.status === 'pending' && (
            <Form form={form} onSubmit={() => decide(false)} label={t('staff.correction.reject')}>
              <div class="actions">
                <button type="button" class="button primary" disabled={act.busy} onClick={() => decide(true)}>
                  {t('staff.correction.approve')}
                </button>
              </div>
              <Field form={form} name="reason" as="textarea" rows={3} maxLength={1000} label={t('staff.correction.reason')} />
              <Submit form={form}>{t('staff.correction.reject')}</Submit>
            </Form>
          )}
        </>
      )}
      <LoadError error={act.error} />
      <Notice>{act.done}</Notice>
    </StaffShell>
  );
}

/* ---------------------------------------------------------------- minors */

function MinorRow({ m }) {
  const { t } = useI18n();
  const [full, setFull] = useState(null);
  const act = useAction();
  const show = () => act.run(async () => setFull(await get(`/api/v1/staff/privacy/minors/${m.id}`)), '');
  return (
    <li class="row" data-minor={m.id} data-status={m.status}>
      <div class="row-main">
        <span>
          #{m.id} · {t('staff.col.user')} {m.user_id}
        </span>
        <span class="badge">{t(`staff.minors.status.${m.status}`)}</span>
        <span class="row-meta">
          <Time ms={m.created_at} />
        </span>
      </div>
      {full ? (
        <dl class="facts">
          <div>
            <dt>{t('staff.minors.guardian')}</dt>
            <dd>{full.guardian_contact}</dd>
          </div>
          <div>
            <dt>{t('staff.minors.evidence')}</dt>
            <dd>{full.evidence_note}</dd>
          </div>
        </dl>
      ) : (
        <button type="button" class="button" disabled={act.busy} onClick={show}>
          {t('staff.minors.show')}
        </button>
      )}
      <LoadError error={act.error} />
    </li>
  );
}

export function StaffMinorsPage() {
  const { t } = useI18n();
  const list = useLoad('/api/v1/staff/privacy/minors');
  const form = useForm({ user_id: '', guardian_contact: '', evidence: '', confirm: false });
  const [done, setDone] = useState('');
  const submit = () =>
    form.run(async (v) => {
      if (!v.confirm) {
        form.fail(new ApiError(400, { title: t('staff.minors.confirm.needed'), errors: [{ field: 'confirm', detail: t('staff.minors.confirm.needed') }] }));
        return;
      }
      await post('/api/v1/staff/privacy/minors', {
        user_id: Number(v.user_id.trim()),
        guardian_contact: v.guardian_contact.trim(),
        evidence: v.evidence.trim(),
      });
      form.setValues({ user_id: '', guardian_contact: '', evidence: '', confirm: false });
      setDone(t('staff.minors.done'));
      list.reload();
    });
  return (
    <StaffShell current="minors" title={t('staff.minors.title')}>
      <p class="lead">{t('staff.minors.lead')}</p>
      <section class="card" aria-labelledby="st-minor-new">
        <h2 id="st-minor-new">{t('staff.minors.new')}</h2>
        <Form form={form} onSubmit={submit} label={t('staff.minors.new')}>
          <Field form={form} name="user_id" label={t('staff.minors.user_id')} inputMode="numeric" maxLength={19} required />
          <Field form={form} name="guardian_contact" label={t('staff.minors.guardian')} maxLength={300} required />
          <Field
            form={form}
            name="evidence"
            as="textarea"
            rows={3}
            maxLength={2000}
            label={t('staff.minors.evidence')}
            hint={t('staff.minors.evidence.hint')}
            required
          />
          <Check form={form} name="confirm" label={t('staff.minors.confirm')} />
          <Submit form={form}>{t('staff.minors.submit')}</Submit>
        </Form>
        <Notice>{done}</Notice>
      </section>
      <section class="card" aria-labelledby="st-minors">
        <h2 id="st-minors">{t('staff.minors.list')}</h2>
        <p class="hint">{t('staff.audited')}</p>
        <LoadError error={list.error} />
        {list.data && list.data.requests.length === 0 && <p class="empty">{t('staff.queue.empty')}</p>}
        <ul class="rows">
          {(list.data?.requests || []).map((m) => (
            <MinorRow key={m.id} m={m} />
          ))}
        </ul>
      </section>
    </StaffShell>
  );
}
