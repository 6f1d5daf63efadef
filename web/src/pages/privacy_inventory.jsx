// The privacy center's "What we hold about you": the personal-data
// registry read for my account (GET /api/v1/me/privacy/inventory). Each
// category held shows its purposes and legal bases, since when it is held,
// until when it is kept, whether it is encrypted and in my export, and
// the tables and fields it comes from; the categories not held are listed
// after it, so I see what could be held. Labels come from the server in
// the language of the request.
import { useI18n } from '../i18n.js';
import { LoadError, useLoad } from '../load.jsx';
import { Time } from './page.jsx';

const names = (list) => list.map((x) => x.label || x.name).join('; ');

/* Until when one table's rows are kept: a date when the rule gives one, else the rule. */
function KeptUntil({ table }) {
  if (table.kept_until) return <Time ms={table.kept_until} dateOnly />;
  return <span>{table.retention_text}</span>;
}

function HeldCategory({ cat }) {
  const { t } = useI18n();
  return (
    <li class="inventory-category" data-category={cat.category}>
      <h3>{cat.title}</h3>
      <dl class="facts">
        <dt>{t('privacy.inventory.purposes')}</dt>
        <dd>{names(cat.purposes)}</dd>
        <dt>{t('privacy.inventory.bases')}</dt>
        <dd>{names(cat.legal_bases)}</dd>
        <dt>{t('privacy.inventory.since')}</dt>
        <dd>{cat.since ? <Time ms={cat.since} dateOnly /> : t('privacy.inventory.unknown')}</dd>
        <dt>{t('privacy.inventory.protection')}</dt>
        <dd>
          {t(cat.encrypted ? 'privacy.inventory.encrypted' : 'privacy.inventory.not_encrypted')}
          {' · '}
          {t(cat.in_export ? 'privacy.inventory.in_export' : 'privacy.inventory.not_in_export')}
        </dd>
      </dl>
      <details>
        <summary>{t('privacy.inventory.where')}</summary>
        <table class="table">
          <thead>
            <tr>
              <th scope="col">{t('privacy.inventory.table')}</th>
              <th scope="col">{t('privacy.inventory.fields')}</th>
              <th scope="col">{t('privacy.inventory.since')}</th>
              <th scope="col">{t('privacy.inventory.kept_until')}</th>
            </tr>
          </thead>
          <tbody>
            {cat.tables.map((tb) => (
              <tr key={tb.table} data-table={tb.table}>
                <td title={tb.note || ''}>
                  <code>{tb.table}</code>
                </td>
                <td>
                  {tb.fields.map((f, i) => (
                    <span key={f.name} title={f.note}>
                      {i > 0 ? ', ' : ''}
                      <code>{f.name}</code>
                      {f.encrypted ? ` (${t('privacy.inventory.encrypted_short')})` : ''}
                    </span>
                  ))}
                </td>
                <td>{tb.since ? <Time ms={tb.since} dateOnly /> : '—'}</td>
                <td>
                  <KeptUntil table={tb} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </li>
  );
}

export function InventorySection() {
  const { t, lang } = useI18n();
  const { data, error } = useLoad('/api/v1/me/privacy/inventory', lang);
  return (
    <section class="card" aria-labelledby="pc-inventory" data-section="inventory">
      <h2 id="pc-inventory">{t('privacy.inventory.title')}</h2>
      <p class="hint">{t('privacy.inventory.hint')}</p>
      <LoadError error={error} />
      {data && (
        <>
          <ul class="rows inventory" aria-label={t('privacy.inventory.held')}>
            {data.held.map((c) => (
              <HeldCategory key={c.category} cat={c} />
            ))}
          </ul>
          {data.not_held.length > 0 && (
            <>
              <h3>{t('privacy.inventory.not_held')}</h3>
              <p class="hint">{t('privacy.inventory.not_held_hint')}</p>
              <ul class="inventory-not-held" aria-label={t('privacy.inventory.not_held')}>
                {data.not_held.map((c) => (
                  <li key={c.category} data-category={c.category}>
                    {c.title}
                    <span class="row-meta"> — {names(c.purposes)}</span>
                  </li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
    </section>
  );
}
