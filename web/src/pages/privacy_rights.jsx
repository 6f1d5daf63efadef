// The privacy center's rights: a copy of everything held about me (ask,
// see it being prepared, download it while it lasts) and closing my
// account (re-authenticate, choose what happens to my public posts, and
// take the request back during the cooling-off period). Both stay usable
// while the consent window is open: the server exempts their routes.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, get, post } from '../api.js';
import { Choice, Form, Notice, ProblemAlert, Submit, useForm } from '../forms.jsx';
import { useI18n } from '../i18n.js';
import { ReauthFields, reauthBody, useReauthForm } from './security.jsx';
import { Time } from './page.jsx';

function Problem({ error }) {
  if (!error) return null;
  return <ProblemAlert form={{ orphans: [], problem: { status: error.status, ...error.problem } }} />;
}

/* ---------------------------------------------------------------- export */

export function ExportSection() {
  const { t } = useI18n();
  const [exports, setExports] = useState([]);
  const [error, setError] = useState(null);
  const form = useForm({});
  const load = useCallback(async () => {
    try {
      setExports((await get('/api/v1/me/exports')).exports);
      setError(null);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      setError(e);
    }
  }, []);
  useEffect(() => {
    load();
  }, [load]);
  // While one is being prepared, look again every second (it takes seconds).
  const busy = exports.some((e) => e.status === 'queued' || e.status === 'running');
  useEffect(() => {
    if (!busy) return undefined;
    const id = setInterval(load, 1000);
    return () => clearInterval(id);
  }, [busy, load]);
  const ask = () =>
    form.run(async () => {
      await post('/api/v1/me/export');
      await load();
    });
  return (
    <section class="card" aria-labelledby="pc-export">
      <h2 id="pc-export">{t('privacy.center.export.title')}</h2>
      <p class="hint">{t('privacy.center.export.hint')}</p>
      <Form form={form} onSubmit={ask} label={t('privacy.center.export.title')}>
        <Submit form={form}>{t('privacy.center.export.ask')}</Submit>
      </Form>
      <Problem error={error} />
      {exports.length === 0 ? (
        <p class="empty">{t('privacy.center.export.none')}</p>
      ) : (
        <ul class="rows" aria-label={t('privacy.center.export.list')}>
          {exports.map((e) => (
            <li key={e.id} class="row" data-status={e.expired ? 'expired' : e.status}>
              <div class="row-main">
                <span>
                  <Time ms={e.requested_at} />
                </span>
                <span class="row-meta">
                  {e.expired
                    ? t('privacy.center.export.expired')
                    : t(`privacy.center.export.status.${e.status}`)}
                </span>
                {e.status === 'ready' && !e.expired && (
                  <span class="row-meta">
                    {t('privacy.center.export.until')} <Time ms={e.expires_at} />
                  </span>
                )}
              </div>
              {e.status === 'ready' && !e.expired && (
                <a class="button" href={`/api/v1/me/exports/${e.id}/download`} download>
                  {t('privacy.center.export.download')}
                </a>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/* ---------------------------------------------------------------- closing the account */

export function CancelSection() {
  const { t } = useI18n();
  const [pending, setPending] = useState(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const { form, attempt, setAttempt } = useReauthForm({ content: '' });
  const load = useCallback(async () => {
    try {
      setPending((await get('/api/v1/me/cancel')).cancellation);
      setError(null);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      setError(e);
    } finally {
      setLoaded(true);
    }
  }, []);
  useEffect(() => {
    load();
  }, [load]);
  const cancel = () =>
    form.run(async (v) => {
      const r = await post('/api/v1/me/cancel', { content: v.content, ...reauthBody(v, attempt) });
      form.setValues({ ...v, current_password: '', code: '' });
      setAttempt(null);
      setPending(r.cancellation);
      setNotice(null);
    });
  const withdraw = async () => {
    try {
      await post('/api/v1/me/cancel/withdraw');
      setPending(null);
      setNotice(t('privacy.center.cancel.kept'));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      setError(e);
    }
  };
  return (
    <section class="card danger" aria-labelledby="pc-cancel">
      <h2 id="pc-cancel">{t('privacy.center.cancel.title')}</h2>
      <Problem error={error} />
      {notice && <Notice>{notice}</Notice>}
      {loaded && pending && (
        <div class="pending" data-cancellation={pending.id}>
          <p>{pending.withdraw?.how}</p>
          <p class="hint">
            {t('privacy.center.cancel.on')} <Time ms={pending.effective_at} />
          </p>
          <button type="button" class="button primary" onClick={withdraw}>
            {t('privacy.center.cancel.keep')}
          </button>
        </div>
      )}
      {loaded && !pending && (
        <Form form={form} onSubmit={cancel} label={t('privacy.center.cancel.title')}>
          <p class="hint">{t('privacy.center.cancel.hint')}</p>
          <Choice
            form={form}
            name="content"
            legend={t('privacy.center.cancel.content')}
            options={[
              { value: 'anonymise', label: t('privacy.center.cancel.anonymise') },
              { value: 'delete', label: t('privacy.center.cancel.delete') },
            ]}
          />
          <ReauthFields form={form} attempt={attempt} setAttempt={setAttempt} />
          <Submit form={form} class="danger">
            {t('privacy.center.cancel.submit')}
          </Submit>
        </Form>
      )}
    </section>
  );
}
