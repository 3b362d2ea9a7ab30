// Validates custom resources against their CRDs' OpenAPI v3 schemas, as generated into
// kubernetes-models' validators (package.json pins the CRD versions). Reads a JSON array of
// objects on stdin; prints one line per object; exits 1 when any is invalid or of a kind it
// has no schema for.
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { Application } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { ExternalSecret } from "@kubernetes-models/external-secrets/external-secrets.io/v1/ExternalSecret";

const models = {
  "monitoring.coreos.com/v1 ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1 PrometheusRule": PrometheusRule,
  "argoproj.io/v1alpha1 Application": Application,
  "keda.sh/v1alpha1 ScaledObject": ScaledObject,
  "external-secrets.io/v1 ExternalSecret": ExternalSecret,
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
let failed = 0;
for (const object of JSON.parse(input)) {
  const kind = `${object.apiVersion} ${object.kind}`;
  const name = `${object.kind}/${object.metadata?.name}`;
  const Model = models[kind];
  if (!Model) {
    console.log(`FAIL ${name}: no schema for ${kind}`);
    failed++;
    continue;
  }
  try {
    new Model(object).validate();
    console.log(`ok   ${name} (${kind})`);
  } catch (error) {
    console.log(`FAIL ${name}: ${error.message}`);
    for (const detail of error.errors ?? []) console.log(`       ${detail.instancePath} ${detail.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
