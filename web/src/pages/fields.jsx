// The account fields that several pages ask for, labelled and hinted the
// same way everywhere: phone, e-mail, a new password, user name, display
// name and account type.
import { Choice, Field } from '../forms.jsx';
import { useI18n } from '../i18n.js';

export function PhoneField({ form, name = 'phone', label }) {
  const { t } = useI18n();
  return (
    <Field
      form={form}
      name={name}
      label={label || t('form.phone')}
      hint={t('form.phone.hint')}
      type="tel"
      autoComplete="tel"
      inputMode="tel"
      required
    />
  );
}

export function EmailField({ form, name = 'email', label, optional }) {
  const { t } = useI18n();
  return (
    <Field
      form={form}
      name={name}
      label={label || t('form.email')}
      type="email"
      autoComplete="email"
      required={!optional}
      optional={optional}
    />
  );
}

/* A password being chosen (registration, change, reset), with the policy as its hint. */
export function NewPasswordField({ form, name, label, optional }) {
  const { t } = useI18n();
  return (
    <Field
      form={form}
      name={name}
      type="password"
      label={label}
      hint={t('form.password.hint')}
      autoComplete="new-password"
      required={!optional}
      optional={optional}
    />
  );
}

/* Display name, user name and account type, as registration and the profile ask them. */
export function IdentityFields({ form }) {
  const { t } = useI18n();
  return (
    <>
      <Choice
        form={form}
        name="account_type"
        legend={t('account.type')}
        options={[
          { value: 'individual', label: t('account.type.individual') },
          { value: 'enterprise', label: t('account.type.enterprise') },
        ]}
      />
      <Field form={form} name="display_name" label={t('profile.display_name')} autoComplete="name" optional />
      <Field
        form={form}
        name="username"
        label={t('profile.username')}
        hint={t('profile.username.hint')}
        autoComplete="username"
        optional
      />
    </>
  );
}
