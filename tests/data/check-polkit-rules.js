// Runs the example polkit rules against a stand-in for polkitd's JavaScript API and
// checks what they decide for members of each group.
'use strict';
const fs = require('fs');

const rules = [];
const polkit = {
  Result: { YES: 'yes', NO: 'no', AUTH_ADMIN: 'auth_admin', AUTH_ADMIN_KEEP: 'auth_admin_keep' },
  addRule: (rule) => rules.push(rule),
  log: () => {},
};

// polkitd evaluates rules files as plain scripts with `polkit` in scope.
new Function('polkit', fs.readFileSync(process.argv[2], 'utf8'))(polkit);

function decide(actionId, groups) {
  const action = { id: actionId, lookup: () => undefined };
  const subject = {
    user: 'someone', groups, local: true, active: true,
    isInGroup: (group) => groups.includes(group),
    isInNetGroup: () => false,
  };
  for (const rule of rules) {
    const result = rule(action, subject);
    if (result !== undefined && result !== null)
      return result;
  }
  return 'default';
}

const cases = [
  ['org.smartrag.use', [], 'default'],
  ['org.smartrag.use', ['smartrag-users'], 'yes'],
  ['org.smartrag.use', ['smartrag-admins'], 'yes'],
  ['org.smartrag.admin', [], 'default'],
  ['org.smartrag.admin', ['smartrag-users'], 'default'],
  ['org.smartrag.admin', ['smartrag-admins'], 'yes'],
  ['org.freedesktop.login1.reboot', ['smartrag-admins'], 'default'],
];
let failed = false;
for (const [actionId, groups, expected] of cases) {
  const got = decide(actionId, groups);
  const ok = got === expected;
  failed = failed || !ok;
  console.log(`${ok ? 'ok' : 'FAIL'}: ${actionId} for groups [${groups}]: ${got}` +
              (ok ? '' : ` (expected ${expected})`));
}
process.exit(failed ? 1 : 0);
