// Entry point: picks the language (saved choice, else the browser's), loads
// its catalogue before the first paint so no English flashes by, then renders.
import { render } from 'preact';
import { App } from './app.jsx';
import { initialLanguage, loadCatalogue } from './i18n.js';
import './style.css';

const lang = initialLanguage();
document.documentElement.lang = lang;
loadCatalogue(lang).then((catalogue) => {
  render(<App initialLang={lang} initialCatalogue={catalogue} />, document.getElementById('app'));
});
