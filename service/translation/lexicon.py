"""The everyday words of chat, per language: evidence for lines too short for n-grams.

On a line of one to three words lingua's n-gram models have little to go on, and among 42
languages a look-alike often wins: "Hej" reads as Polish, "Tjena" as Spanish, "ok bedankt" as
German. People open and close conversations with a small set of words (greetings, thanks,
yes and no, "see you", "sounds good") and short lines are mostly made of them and of function
words. So each word of a short line that is in a language's list below counts `LEXICON_ODDS`
to 1 for that language (a word in several lists counts for each: "ja" is German, Dutch,
Swedish, Danish, Norwegian and Polish alike).

The lists were written from the languages' everyday usage, not from any test corpus, and
hold only words a speaker would use in chat; a language without a list is unaffected.
"""

from __future__ import annotations

import re
from typing import Final

_WORDS: Final[dict[str, str]] = {
    "en": """hi hello hey thanks thank you yes yeah yep no nope please sorry sure cool great nice
        good morning night bye see later tomorrow today the a is are was it this that what
        who where when why how and or but not don't can't i'm it's i you we they he she my
        your our of to in on for with at from do does did have has got will would could
        should just also here there done fine agreed sounds makes sense welcome congrats
        anyone any update meeting lunch coffee let's let me know""",
    "de": """hallo hi servus moin tschüss danke bitte ja nein nee doch gut super klar genau
        morgen heute abend tag guten gute nacht bis später bald der die das ein eine ist
        sind war es ich du wir ihr sie er mein dein und oder aber nicht kein was wer wo
        wann warum wie mit auf für von zu im am hast habe hat schon noch auch hier da
        okay mittag mittagessen kaffee passt stimmt gerne alles klingt vielen dank schön""",
    "fr": """bonjour salut coucou bonsoir merci oui non ouais stp svp pardon désolé bien
        super génial d'accord demain aujourd'hui ce soir bonne nuit journée à plus tard
        bientôt le la les un une est sont c'est il elle je tu nous vous ils mon ton et ou
        mais pas ne que qui quoi où quand pourquoi comment avec pour dans sur de du des
        au ça va déjà aussi ici voilà vais fait déjeuner café rien""",
    "es": """hola buenas buenos días tardes noches gracias sí no vale bueno claro perfecto
        genial mañana hoy luego hasta pronto adiós el la los las un una es son está
        están yo tú nosotros usted ellos mi tu y o pero qué quién dónde cuándo por
        cómo con para en de del al también aquí ya todo bien nada almuerzo
        café vamos""",
    "it": """ciao salve buongiorno buonasera buonanotte grazie sì no va bene ok perfetto
        certo domani oggi dopo presto arrivederci il lo la gli le un una è sono io tu
        noi voi lui lei mio tuo e o ma non che chi cosa dove quando perché come con per
        in di del della al anche qui già tutto niente pranzo caffè andiamo fatto""",
    "pt": """olá oi bom dia boa tarde noite obrigado obrigada sim não valeu beleza claro
        certo amanhã hoje depois logo até tchau o a os as um uma é são está estão eu
        você nós vocês ele ela meu seu e ou mas que quem onde quando porque como com
        para em de do da no na também aqui já tudo nada almoço café vamos""",
    "nl": """hallo hoi hey dag goedemorgen goedenavond bedankt dank dankjewel ja nee graag
        sorry prima goed oké morgen vandaag straks later tot ziens de het een is zijn
        was ik jij je wij we jullie hij zij mijn jouw en of maar niet geen wat wie waar
        wanneer waarom hoe met op voor van naar ook hier al alles niks lunch koffie
        klinkt welkom""",
    "ca": """hola bon dia bona tarda nit gràcies sí no d'acord perfecte genial demà avui
        després fins aviat adéu el la els les un una és són està estan jo tu nosaltres
        vosaltres ell ella meu teu i o però què qui on quan per què com amb per en de
        del al també aquí ja tot res
        dinar cafè anem""",
    "pl": """cześć hej dzień dobry dobranoc dzięki dziękuję tak nie proszę przepraszam
        dobrze super jasne jutro dzisiaj dziś później do zobaczenia jest są był ja ty
        my wy on ona mój twój i lub ale co kto gdzie kiedy dlaczego jak z na dla w od
        też tu już wszystko nic obiad kawa""",
    "sv": """hej hejsan hallå god morgon natt tack ja nej jo visst
        bra toppen kul imorgon idag sen senare vi ses det är en ett jag du han hon min
        din och eller men inte vad vem var när varför hur med på för av till också här
        redan allt inget lunch fika kaffe""",
    "da": """hej hejsa godmorgen godnat tak ja nej jo godt fint super i morgen i dag senere
        vi ses det er en et jeg du vi han hun min din og eller men ikke hvad hvem hvor
        hvornår hvorfor hvordan med på for af til også her allerede alt intet frokost""",
    "nb": """hei hallo god morgen natt takk ja nei jo bra fint supert i morgen i dag senere
        vi ses det er en et jeg du vi han hun min din og eller men ikke hva hvem hvor
        når hvorfor hvordan med på for av til også her allerede alt ingenting lunsj""",
    "tr": """merhaba selam günaydın iyi geceler akşamlar teşekkürler teşekkür ederim sağ ol
        evet hayır tamam peki süper harika yarın bugün sonra görüşürüz bu şu bir ve
        veya ama değil ne kim nerede ne zaman neden nasıl ile için de da çok güzel ben
        sen biz siz o benim senin var yok kahve""",
    "id": """halo hai selamat pagi siang sore malam terima kasih makasih ya tidak nggak
        enggak bukan tolong maaf baik oke sip besok hari ini nanti sampai jumpa ini itu
        apa siapa di mana kapan kenapa bagaimana dan atau tapi saya aku kamu kita kami
        dia mereka dengan untuk dari ke juga sudah belum semua makan siang kopi""",
    "cs": """ahoj čau dobrý den ráno večer dobrou noc děkuji díky ano jo ne prosím promiň
        dobře super jasně zítra dnes pak později na shledanou to je jsou byl já ty my vy
        on ona můj tvůj a nebo ale co kdo kde kdy proč jak s na pro v od taky tady už
        všechno nic oběd káva""",
    "sk": """ahoj čau dobrý deň ráno večer dobrú noc ďakujem vďaka áno hej nie prosím prepáč
        dobre super jasné zajtra dnes potom neskôr dovidenia to je sú bol ja ty my vy on
        ona môj tvoj a alebo ale čo kto kde kedy prečo ako s na pre v od tiež tu už
        všetko nič obed káva""",
    "ro": """salut bună ziua dimineața seara noapte mulțumesc mersi da nu te rog scuze bine
        super sigur mâine azi astăzi apoi mai târziu pa este sunt era eu tu noi voi el
        ea meu tău și sau dar ce cine unde când de ce cum cu pe pentru în din la și aici
        deja tot nimic prânz cafea""",
    "hu": """szia sziasztok helló jó reggelt napot estét éjszakát köszönöm köszi igen nem
        kérlek bocsi bocs jól rendben szuper holnap ma később viszlát ez az egy van
        vagyok én te mi ti ő és vagy de nem mi ki hol mikor miért hogyan is itt már
        minden semmi ebéd kávé""",
    "fi": """moi hei terve huomenta hyvää päivää iltaa yötä kiitos kiitti kyllä joo ei ole
        anteeksi hyvä hyvin selvä huomenna tänään myöhemmin nähdään tämä se on ovat oli
        minä sinä me te hän minun sinun ja tai mutta mitä kuka missä milloin miksi miten
        kanssa myös täällä jo kaikki ei mitään lounas kahvi""",
    "ru": """привет здравствуйте спасибо да нет пожалуйста извини хорошо отлично ладно
        окей завтра сегодня потом пока до встречи это что кто где когда почему как и
        или но не я ты мы вы он она мой твой с на для в от тоже здесь уже всё ничего
        обед кофе""",
    "uk": """привіт вітаю дякую так ні будь ласка вибач добре чудово гаразд завтра сьогодні
        потім бувай до зустрічі це що хто де коли чому як і або але не я ти ми ви він
        вона мій твій з на для в від теж тут вже все нічого обід кава""",
}
LEXICONS: Final[dict[str, frozenset[str]]] = {
    code: frozenset(words.split()) for code, words in _WORDS.items()
}
_INDEX: Final[dict[str, frozenset[str]]] = {
    word: frozenset(code for code, words in LEXICONS.items() if word in words)
    for words in LEXICONS.values()
    for word in words
}
_WORD: Final = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def languages_of_words(text: str) -> list[frozenset[str]]:
    """For each word of `text`, the languages whose list has it (words in none left out)."""
    words = _WORD.findall(text.lower().replace("’", "'"))
    return [_INDEX[word] for word in words if word in _INDEX]
