// Endpoints: status, variants, instance counts, and the last hour's invocations and error rate.

import { sagemaker, paginate, metricData, stat } from "../api.js";
import { h, clear, errorBox, fmtNumber } from "../dom.js";

const NS = "AWS/SageMaker";

export async function mount(root) {
  const body = h("div");
  root.append(h("h1", { text: "Endpoints" }), body);
  const refresh = async () => {
    let rows;
    try {
      rows = await load();
    } catch (err) {
      clear(body).append(errorBox(err));
      return;
    }
    clear(body).append(rows.length ? table(rows) :
      h("p", { class: "muted", "data-testid": "no-endpoints", text: "No endpoints yet. Deploy one with `tandem deploy`." }));
  };
  await refresh();
  return { refresh };
}

async function load() {
  const list = await paginate(sagemaker, "ListEndpoints", { MaxResults: 100 }, "Endpoints");
  const described = await Promise.all(list.map((e) =>
    sagemaker("DescribeEndpoint", { EndpointName: e.EndpointName }).catch(() => e)));
  const queries = [];
  described.forEach((e, ei) => (e.ProductionVariants || []).forEach((v, vi) => {
    const dims = { EndpointName: e.EndpointName, VariantName: v.VariantName };
    queries.push(stat(`inv_${ei}_${vi}`, NS, "Invocations", dims, "Sum", 3600));
    queries.push(stat(`e4_${ei}_${vi}`, NS, "Invocation4XXErrors", dims, "Sum", 3600));
    queries.push(stat(`e5_${ei}_${vi}`, NS, "Invocation5XXErrors", dims, "Sum", 3600));
  }));
  const end = Math.ceil(Date.now() / 1000 / 60) * 60;
  const data = queries.length ? await metricData(queries, end - 3600, end) : {};
  const total = (id) => (data[id] ? data[id].values.reduce((a, b) => a + b, 0) : 0);
  return described.map((e, ei) => {
    let inv = 0;
    let errors = 0;
    (e.ProductionVariants || []).forEach((v, vi) => {
      inv += total(`inv_${ei}_${vi}`);
      errors += total(`e4_${ei}_${vi}`) + total(`e5_${ei}_${vi}`);
    });
    return { e, inv, errors };
  });
}

function table(rows) {
  return h("table", { class: "grid", "data-testid": "endpoints" },
    h("thead", {}, h("tr", {}, ["Name", "Status", "Variants", "Instances", "Invocations (1 h)",
      "Error rate (1 h)", "Created"].map((t) => h("th", { text: t })))),
    h("tbody", {}, rows.map(({ e, inv, errors }) => {
      const variants = e.ProductionVariants || [];
      return h("tr", { dataset: { endpoint: e.EndpointName } },
        h("td", {}, h("a", { href: `#/endpoints/${encodeURIComponent(e.EndpointName)}`, text: e.EndpointName })),
        h("td", {}, h("span", { class: `status ${String(e.EndpointStatus).toLowerCase()}`, text: e.EndpointStatus })),
        h("td", { text: variants.map((v) => v.VariantName).join(", ") || "–" }),
        h("td", { text: variants.map((v) => `${v.CurrentInstanceCount ?? "?"}/${v.DesiredInstanceCount ?? "?"}`).join(", ") || "–" }),
        h("td", { class: "num", dataset: { invocations: inv }, text: fmtNumber(inv, 0) }),
        h("td", { class: "num", text: inv ? `${fmtNumber((100 * errors) / inv)} %` : "–" }),
        h("td", { text: e.CreationTime ? new Date(e.CreationTime * 1000).toLocaleString() : "" }));
    })));
}
