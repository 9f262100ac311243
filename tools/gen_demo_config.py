#!/usr/bin/env python3
"""Generates signaling-server/config/demo.toml: the embedded demo (regions, services, booths, clerks,
supervisors). Every account's secret is `demo`, stored as a salted PBKDF2-SHA256 hash like a real
config. Deterministic: salts derive from the account id. Run from the repo root."""
import base64, hashlib

ITER = 10000

def secret_hash(account):
    salt = hashlib.sha256(("xiaowu-demo-salt:" + account).encode()).digest()[:16]
    dk = hashlib.pbkdf2_hmac("sha256", b"demo", salt, ITER)
    b64 = lambda b: base64.b64encode(b).decode().rstrip("=")
    return f"pbkdf2-sha256${ITER}${b64(salt)}${b64(dk)}"

regions = [
    ("shandong", "山东省", "province", None, []),
    ("hebei", "河北省", "province", None, []),
    ("dongying", "东营市", "city", "shandong", ["binzhou", "cangzhou"]),
    ("binzhou", "滨州市", "city", "shandong", ["dongying"]),
    ("cangzhou", "沧州市", "city", "hebei", ["dongying"]),
    ("hekou", "河口区", "county", "dongying", []),
    ("dongyingqu", "东营区", "county", "dongying", []),
    ("kenli", "垦利区", "county", "dongying", []),
    ("lijin", "利津县", "county", "dongying", []),
    ("guangrao", "广饶县", "county", "dongying", []),
    ("bincheng", "滨城区", "county", "binzhou", []),
    ("zhanhua", "沾化区", "county", "binzhou", []),
    ("huimin", "惠民县", "county", "binzhou", []),
    ("huanghua", "黄骅市", "county", "cangzhou", []),
    ("gudao", "孤岛镇", "town", "hekou", []),
    ("xianhe", "仙河镇", "town", "hekou", []),
    ("yihe", "义和镇", "town", "hekou", []),
    ("xinhu", "新户镇", "town", "hekou", []),
    ("niuzhuang", "牛庄镇", "town", "dongyingqu", []),
    ("longju", "龙居镇", "town", "dongyingqu", []),
    ("yongan", "永安镇", "town", "kenli", []),
    ("huanghekou", "黄河口镇", "town", "kenli", []),
    ("chenzhuang", "陈庄镇", "town", "lijin", []),
    ("dawang", "大王镇", "town", "guangrao", []),
    ("qinhuangtai", "秦皇台乡", "town", "bincheng", []),
    ("fuyuan", "富源街道", "town", "zhanhua", []),
    ("weiji", "魏集镇", "town", "huimin", []),
    ("yangerzhuang", "羊二庄镇", "town", "huanghua", []),
    ("nanling", "南岭村", "village", "gudao", []),
    ("erbajiu", "二十八村", "village", "yongan", []),
]

# code, name, English, category, levels
services = [
    ("teacher-cert", "教师资格认定确认", "Teacher qualification confirmation", "教育", ["county", "city"]),
    ("business-reg", "企业设立登记", "Company registration", "市场主体", ["county", "city"]),
    ("sole-trader-reg", "个体工商户设立登记", "Sole trader registration", "市场主体", ["county", "city"]),
    ("food-license", "食品经营许可", "Food business licence", "市场主体", ["county", "city"]),
    ("birth-bundle", "出生一件事", "Newborn services bundle", "民生", ["county", "city"]),
    ("social-card", "社保卡申领", "Social security card application", "社保", ["county", "city"]),
    ("property-reg", "不动产登记", "Real estate registration", "不动产", ["county", "city"]),
    ("housing-fund", "公积金提取", "Housing provident fund withdrawal", "公积金", ["city"]),
    ("pension-check", "养老保险待遇资格认证", "Pension eligibility verification", "社保", ["county", "city"]),
    ("medical-filing", "异地就医备案", "Out-of-area medical care filing", "医保", ["county", "city", "province"]),
    ("residence-permit", "居住证办理", "Residence permit", "户籍", ["county", "city"]),
    ("hukou-transfer", "户口迁移", "Household registration transfer", "户籍", ["county", "city"]),
    ("marriage-booking", "婚姻登记预约", "Marriage registration appointment", "民政", ["county"]),
    ("disability-card", "残疾人证办理", "Disability certificate", "民政", ["county", "city"]),
    ("unemployment-benefit", "失业保险金申领", "Unemployment benefit claim", "社保", ["county", "city"]),
    ("driving-licence", "驾驶证换证", "Driving licence renewal", "交通", ["city"]),
    ("tax-invoice", "发票申领", "Tax invoice application", "税务", ["county", "city"]),
    ("farmland-subsidy", "耕地地力保护补贴", "Farmland protection subsidy", "农业", ["county"]),
    ("elderly-allowance", "高龄津贴申领", "Old-age allowance claim", "民政", ["county"]),
    ("construction-permit", "建筑工程施工许可", "Construction permit", "住建", ["county", "city", "province"]),
    ("minimum-living", "最低生活保障申请", "Minimum living allowance", "民政", ["county"]),
]
codes = [s[0] for s in services]

booths = [
    ("booth-gudao-1", "孤岛镇便民服务中心 1号晓屋", "gudao", "town_centre"),
    ("booth-gudao-2", "孤岛镇便民服务中心 2号晓屋", "gudao", "town_centre"),
    ("booth-xianhe-1", "仙河镇便民服务中心晓屋", "xianhe", "town_centre"),
    ("booth-yihe-1", "义和镇便民服务中心晓屋", "yihe", "town_centre"),
    ("booth-xinhu-1", "新户镇便民服务中心晓屋", "xinhu", "town_centre"),
    ("booth-nanling-1", "南岭村便民服务站晓屋", "nanling", "village_station"),
    ("booth-hekou-bank-1", "河口区农商银行营业部晓屋", "hekou", "bank"),
    ("booth-niuzhuang-1", "牛庄镇便民服务中心晓屋", "niuzhuang", "town_centre"),
    ("booth-longju-1", "龙居镇便民服务中心晓屋", "longju", "town_centre"),
    ("booth-dongyingqu-post-1", "东营区邮政支局晓屋", "dongyingqu", "post_office"),
    ("booth-yongan-1", "永安镇便民服务中心晓屋", "yongan", "town_centre"),
    ("booth-erbajiu-1", "二十八村便民服务站晓屋", "erbajiu", "village_station"),
    ("booth-huanghekou-1", "黄河口镇便民服务中心晓屋", "huanghekou", "town_centre"),
    ("booth-kenli-bank-1", "垦利区建设银行支行晓屋", "kenli", "bank"),
    ("booth-chenzhuang-1", "陈庄镇便民服务中心晓屋", "chenzhuang", "town_centre"),
    ("booth-lijin-post-1", "利津县邮政支局晓屋", "lijin", "post_office"),
    ("booth-dawang-1", "大王镇便民服务中心晓屋", "dawang", "town_centre"),
    ("booth-guangrao-bank-1", "广饶县农业银行支行晓屋", "guangrao", "bank"),
    ("booth-qinhuangtai-1", "秦皇台乡便民服务中心晓屋", "qinhuangtai", "town_centre"),
    ("booth-bincheng-post-1", "滨城区邮政支局晓屋", "bincheng", "post_office"),
    ("booth-fuyuan-1", "富源街道便民服务中心晓屋", "fuyuan", "town_centre"),
    ("booth-zhanhua-bank-1", "沾化区农商银行晓屋", "zhanhua", "bank"),
    ("booth-weiji-1", "魏集镇便民服务中心晓屋", "weiji", "town_centre"),
    ("booth-huimin-post-1", "惠民县邮政支局晓屋", "huimin", "post_office"),
    ("booth-yangerzhuang-1", "羊二庄镇便民服务中心晓屋", "yangerzhuang", "town_centre"),
    ("booth-huanghua-bank-1", "黄骅市工商银行支行晓屋", "huanghua", "bank"),
    ("booth-dongying-power-1", "东营供电营业厅晓屋", "dongyingqu", "power_office"),
    ("booth-binzhou-power-1", "滨州供电营业厅晓屋", "bincheng", "power_office"),
    ("booth-xianhe-2", "仙河镇便民服务中心 2号晓屋", "xianhe", "town_centre"),
    ("booth-yongan-2", "永安镇农商银行晓屋", "yongan", "bank"),
]

county_services = [c for c, _, _, _, lv in services if "county" in lv]
city_services = [c for c, _, _, _, lv in services if "city" in lv]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红"
halls = [("hekou", 5), ("dongyingqu", 3), ("kenli", 4), ("lijin", 2), ("guangrao", 2), ("dongying", 6),
         ("bincheng", 3), ("zhanhua", 2), ("huimin", 2), ("binzhou", 4), ("huanghua", 3), ("cangzhou", 2),
         ("shandong", 2)]
clerks = []
n = 0
for hall, count in halls:
    level = next(r[2] for r in regions if r[0] == hall)
    pool = {"county": county_services, "city": city_services,
            "province": [c for c, _, _, _, lv in services if "province" in lv]}[level]
    for i in range(1, count + 1):
        width = {"county": 7, "city": 10, "province": 3}[level]
        skills = [pool[(n * 3 + k) % len(pool)] for k in range(width)]
        if i <= 2 and "teacher-cert" in pool and "teacher-cert" not in skills:
            skills[0] = "teacher-cert"
        skills = sorted(set(skills), key=codes.index)
        name = SURNAMES[n % len(SURNAMES)] + GIVEN[(n * 7) % len(GIVEN)]
        clerks.append((f"clerk-{hall}-{i}", name, hall, skills))
        n += 1

# 帮办代办: a kiosk's "请工作人员帮我" button asks for this service; the first clerk of every county
# and city hall is a helper. Added after the skills above were dealt, so they stay as they were.
services.append(("assist", "帮办代办（请工作人员帮我）", "Assisted service: a staff helper", "帮办", ["county", "city"]))
codes.append("assist")
for i, (cid, name, hall, skills) in enumerate(clerks):
    level = next(r[2] for r in regions if r[0] == hall)
    if cid.endswith("-1") and level in ("county", "city"):
        clerks[i] = (cid, name, hall, skills + ["assist"])

supervisors = [
    ("sup-dongying", "东营市值班长", "dongying"),
    ("sup-binzhou", "滨州市值班长", "binzhou"),
    ("sup-shandong", "山东省督导", "shandong"),
]

def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

def arr(xs):
    return "[" + ", ".join(q(x) for x in xs) + "]"

out = ["# Xiaowu demo configuration: generated by tools/gen_demo_config.py; edit that script, not this file.",
       "# Every account's secret is `demo` (stored hashed, as in a real configuration).", "",
       "[server]", 'listen = "127.0.0.1:8080"', "heartbeat_interval_secs = 10", "heartbeat_timeout_secs = 30",
       "token_ttl_secs = 43200", "",
       "[routing]", "offer_timeout_secs = 20", "max_missed_offers = 2", "booth_grace_secs = 30",
       "wrap_up_max_secs = 120", "max_wait_secs = 1800", "no_clerk_grace_secs = 60", "media_timeout_secs = 15",
       "widen_after_secs = [30, 90, 180]", "",
       "[[ice_servers]]", 'urls = ["stun:127.0.0.1:3478"]', ""]
for rid, name, level, parent, partners in regions:
    out += ["[[regions]]", f"id = {q(rid)}", f"name = {q(name)}", f"level = {q(level)}"]
    if parent: out.append(f"parent = {q(parent)}")
    if partners: out.append(f"partners = {arr(partners)}")
    out.append("")
# What the kiosk tells the citizen to have at hand before queuing.
MATERIALS = {
    "teacher-cert": ["id_front", "id_back", "diploma"],
    "business-reg": ["id_front", "id_back", "other"],
    "sole-trader-reg": ["id_front", "id_back", "other"],
    "food-license": ["id_front", "id_back", "other"],
    "birth-bundle": ["id_front", "hukou_cover", "hukou_self"],
    "residence-permit": ["id_front", "hukou_cover", "hukou_self"],
    "hukou-transfer": ["id_front", "hukou_cover", "hukou_self"],
    "marriage-booking": ["id_front", "hukou_self"],
    "assist": [],
}
for code, name, en, cat, levels in services:
    target = 60 if code != "housing-fund" else 90
    handle = 300 if code not in ("property-reg", "business-reg", "construction-permit") else 600
    out += ["[[services]]", f"code = {q(code)}", f"name = {q(name)}", f"name_en = {q(en)}", f"category = {q(cat)}",
            f"levels = {arr(levels)}", f"target_answer_secs = {target}", f"expected_handle_secs = {handle}",
            f"materials = {arr(MATERIALS.get(code, ['id_front', 'id_back']))}", ""]
for bid, name, region, kind in booths:
    out += ["[[booths]]", f"id = {q(bid)}", f"name = {q(name)}", f"region = {q(region)}", f"kind = {q(kind)}",
            f"secret_hash = {q(secret_hash(bid))}", ""]
for cid, name, hall, skills in clerks:
    out += ["[[clerks]]", f"id = {q(cid)}", f"name = {q(name)}", f"hall = {q(hall)}", f"skills = {arr(skills)}",
            f"secret_hash = {q(secret_hash(cid))}", ""]
for sid, name, scope in supervisors:
    out += ["[[supervisors]]", f"id = {q(sid)}", f"name = {q(name)}", f"scope = {q(scope)}",
            f"secret_hash = {q(secret_hash(sid))}", ""]
open("signaling-server/config/demo.toml", "w").write("\n".join(out))
print(f"{len(regions)} regions, {len(services)} services, {len(booths)} booths, {len(clerks)} clerks, "
      f"{len(supervisors)} supervisors")
