// The Markdown editor of topics and replies: a labelled textarea bound to a
// form value (its server error shows next to it, like every field), and a
// preview the server renders exactly as the post will be stored
// (POST /api/v1/community/preview), shown below the text.
import { useState } from 'preact/hooks';
import { ApiError, post } from '../api.js';
import { Field } from '../forms.jsx';
import { useI18n } from '../i18n.js';
import { PostHtml } from './forum.jsx';

export function MarkdownField({ form, name = 'body', label, rows = 8, autoFocus }) {
  const { t } = useI18n();
  const [preview, setPreview] = useState(null); // null: closed; {html} | {error} | {busy}
  const body = form.values[name] || '';
  const show = async () => {
    if (!body.trim()) {
      setPreview({ error: t('forum.editor.empty') });
      return;
    }
    setPreview({ busy: true });
    try {
      const { html } = await post('/api/v1/community/preview', { body });
      setPreview({ html });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const detail = Object.values(e.fieldErrors)[0] || e.problem.detail || e.problem.title;
      setPreview({ error: e.status === 0 ? t('form.network.title') : detail || t('form.failed') });
    }
  };
  return (
    <div class="md-editor">
      <Field form={form} name={name} as="textarea" label={label} hint={t('forum.editor.hint')} rows={rows} required autoFocus={autoFocus} />
      <p class="md-actions">
        {preview ? (
          <button type="button" class="link-button" onClick={() => setPreview(null)}>
            {t('forum.editor.hide-preview')}
          </button>
        ) : (
          <button type="button" class="link-button" onClick={show}>
            {t('forum.editor.preview')}
          </button>
        )}
      </p>
      {preview && (
        <section class="md-preview" aria-label={t('forum.editor.preview')} aria-live="polite" aria-busy={preview.busy ? 'true' : undefined}>
          {preview.busy && <p class="loading">{t('app.loading')}</p>}
          {preview.error && <p class="field-error">{preview.error}</p>}
          {preview.html !== undefined && <PostHtml html={preview.html} />}
        </section>
      )}
    </div>
  );
}
