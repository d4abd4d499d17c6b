#!/usr/bin/env python3
"""The XML data files are well formed, and the polkit policy is merged and translated.

Arguments: the polkit policy as built (translations merged), then any other XML files.
"""
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

XML_LANG = '{http://www.w3.org/XML/1998/namespace}lang'

# The defaults the design gives each action: (allow_any, allow_inactive, allow_active).
ACTIONS = {
    'org.smartrag.use': ('auth_admin', 'auth_admin', 'yes'),
    'org.smartrag.admin': ('auth_admin_keep', 'auth_admin_keep', 'auth_admin_keep'),
}
LANGUAGES = ['de']


def well_formed(path):
    xmllint = shutil.which('xmllint')
    if xmllint:
        # --nonet: the DOCTYPEs name DTDs on the web; well-formedness needs none of them.
        result = subprocess.run([xmllint, '--noout', '--nonet', path],
                                capture_output=True, text=True)
        if result.returncode != 0:
            return result.stderr.strip()
        return None
    try:
        ET.parse(path)
    except ET.ParseError as error:
        return str(error)
    return None


def check_policy(path):
    problems = []
    root = ET.parse(path).getroot()
    found = {action.get('id'): action for action in root.findall('action')}
    if sorted(found) != sorted(ACTIONS):
        problems.append('actions are %s, expected %s' % (sorted(found), sorted(ACTIONS)))
    for action_id, expected in ACTIONS.items():
        action = found.get(action_id)
        if action is None:
            continue
        defaults = tuple(action.findtext('defaults/' + name, '').strip()
                         for name in ('allow_any', 'allow_inactive', 'allow_active'))
        if defaults != expected:
            problems.append('%s: defaults %s, expected %s' % (action_id, defaults, expected))
        for tag in ('description', 'message'):
            texts = {element.get(XML_LANG): (element.text or '').strip()
                     for element in action.findall(tag)}
            if not texts.get(None):
                problems.append('%s: no untranslated <%s>' % (action_id, tag))
            for lang in LANGUAGES:
                translated = texts.get(lang)
                if not translated or translated == texts.get(None):
                    problems.append('%s: <%s> has no %s translation' % (action_id, tag, lang))
                else:
                    print('%s %s [%s]: %s' % (action_id, tag, lang, translated))
    return problems


def main():
    policy, others = sys.argv[1], sys.argv[2:]
    failed = False
    for path in [policy] + others:
        error = well_formed(path)
        if error:
            print('FAIL: %s is not well formed: %s' % (path, error))
            failed = True
        else:
            print('ok: %s is well formed' % path)
    if not failed:
        for problem in check_policy(policy):
            print('FAIL: %s: %s' % (policy, problem))
            failed = True
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
