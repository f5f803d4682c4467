package conversations

import (
	"path/filepath"
	"testing"

	"github.com/tendcare/tend/internal/golden"
)

// localScripts are transcripts in which the patient types in their own
// language: keywords, answer words, the safety lexicon and typed readings
// as a patient of that language writes them. Each language adds its own
// entry; the goldens go to testdata/transcripts/<lang>/local-<name>.txt.
var localScripts = map[string][]script{
	"zh-Hans": {
		{"words", []string{"start med-reminder medication=lisinopril", "> 吃了", "start med-reminder medication=lisinopril", "> 还没", "wait 30m", "> 吃过了"}},
		{"keywords", []string{"> 帮助", "> 护士", "> 退订", "> 你好", "> 开始", "> 中文", "> 语言"}},
		{"safety", []string{"> 我胸口很痛，出冷汗", "> 昨天胸口痛", "> 是", "> 今天没有胸痛", "> 没有"}},
		{"crisis", []string{"start med-reminder medication=lisinopril", "> 我不想活了"}},
		{"readings", []string{"> 体重 82.4公斤", "> 血糖 6.1", "> 血糖 2.8 手抖", "> 血压150/95"}},
	},
	"zh-Hant": {
		{"words", []string{"start med-reminder medication=lisinopril", "> 吃了", "start med-reminder medication=lisinopril", "> 還沒", "wait 30m", "> 吃過了"}},
		{"keywords", []string{"> 說明", "> 護理師", "> 退訂", "> 你好", "> 開始", "> 繁體中文", "> 語言"}},
		{"safety", []string{"> 我胸口很痛，一直冒冷汗", "> 昨天胸口痛", "> 是", "> 今天沒有胸痛", "> 沒有", "> 阿嬤昏倒了叫不醒"}},
		{"crisis", []string{"start med-reminder medication=lisinopril", "> 我不想活了"}},
		{"readings", []string{"> 體重 82.4公斤", "> 血糖 110", "> 血糖 50 手抖", "> 血壓150/95"}},
	},
	"fr": {
		{"words", []string{"start med-reminder medication=lisinopril", "> oui je l'ai pris", "> AIDE", "> INFIRMIÈRE", "> LANGUES"}},
		{"safety", []string{"> pas de douleur dans la poitrine aujourd'hui", "> non", "> je n'arrive plus à respirer",
			"> ma glycémie est à 45 et je tremble", "> j'ai mal au coeur depuis ce matin", "> oui", "> ARRET"}},
	},
	"pt": {
		{"words", []string{"start med-reminder medication=lisinopril", "> sim, já tomei", "> AJUDA", "> ENFERMEIRA", "> LÍNGUAS"}},
		{"safety", []string{"> sem dor no peito hoje", "> não", "> não consigo respirar",
			"> glicemia 45 e to tremendo", "> caiu no chão desmaiada", "> sim", "> SAIR"}},
	},
	"ht": {
		{"words", []string{"start med-reminder medication=lisinopril", "> wi, mwen pran l", "> EDE", "> MIS", "> LANG"}},
		{"safety", []string{"> pa gen doulè nan pwatrin jodi a", "> non", "> m pa ka respire",
			"> sik mwen 45 m ap tranble", "> j'ai mal à la poitrine", "> wi", "> SISPANN"}},
	},
	"ru": {
		{"words", []string{"start med-reminder medication=lisinopril", "> Да, выпила", "start med-reminder medication=lisinopril", "> еще нет", "wait 30m", "> приняла"}},
		{"keywords", []string{"> ПОМОЩЬ", "> медсестра", "> СТОП", "> привет", "> старт", "> Русский", "> языки"}},
		{"safety", []string{"> сильно болит в груди, холодный пот", "> вчера болело сердце", "> да", "> сегодня боли в груди нет", "> нет", "> мама упала и не приходит в себя"}},
		{"crisis", []string{"start med-reminder medication=lisinopril", "> не хочу жить"}},
		{"readings", []string{"> вес 82,4 кг", "> сахар 6,1", "> сахар 2,8 трясет", "> давление 150/95"}},
	},
	"hi": {
		{"words", []string{"start med-reminder medication=lisinopril", "> haan le li", "start med-reminder medication=lisinopril", "> अभी नहीं", "wait 30m", "> दवा ले ली"}},
		{"keywords", []string{"> मदद", "> नर्स", "> रोकें", "> नमस्ते", "> शुरू", "> हिंदी", "> भाषा"}},
		{"safety", []string{"> सीने में बहुत दर्द है, पसीना आ रहा है", "> कल सीने में दर्द था", "> हाँ", "> seene me dard nahi hai", "> नहीं", "> saans nahi aa rahi"}},
		{"crisis", []string{"start med-reminder medication=lisinopril", "> मैं मरना चाहता हूँ"}},
		{"readings", []string{"> वज़न ८२.४ किलो", "> शुगर 110", "> शुगर 45 काँप रहा हूँ", "> BP 150/95"}},
	},
	"ko": {
		{"words", []string{"start med-reminder medication=lisinopril", "> 먹었어요", "start med-reminder medication=lisinopril", "> 아직", "wait 30m", "> 네"}},
		{"keywords", []string{"> 도움말", "> 간호사", "> 중지", "> 안녕하세요", "> 시작", "> 한국어", "> 언어"}},
		{"safety", []string{"> 가슴이 너무 아파요 식은땀이 나요", "> 어제 가슴이 아팠어요", "> 네", "> 오늘은 가슴 통증 없어요", "> 엄마가 쓰러졌어요"}},
		{"crisis", []string{"start med-reminder medication=lisinopril", "> 죽고 싶어요"}},
		{"readings", []string{"> 몸무게 82.4kg", "> 혈당 110", "> 혈당 2.8 떨려요", "> 혈압 150/95"}},
	},
}

// TestTranscriptsLocal checks localScripts against their goldens (go test
// -update writes them).
func TestTranscriptsLocal(t *testing.T) {
	e := testEngine(t)
	for lang, scs := range localScripts {
		for _, sc := range scs {
			t.Run(lang+"/"+sc.name, func(t *testing.T) {
				d := newDriver(t, e, lang)
				for _, line := range sc.steps {
					d.step(line)
				}
				goldenFile := filepath.Join("testdata", "transcripts", lang, "local-"+sc.name+".txt")
				golden.Compare(t, goldenFile, d.b.String())
			})
		}
	}
}
