// The call-centre screen pop: search by phone, email or name; show the customer-360 card.
const IDENTITY = ["customer_id", "full_name", "email", "phone", "emails", "phones", "address_line", "city", "region",
  "postcode", "country", "birth_date", "national_id_last4", "company", "silos", "record_count", "first_seen_at",
  "last_updated_at", "given_name", "family_name"];
const MONEY = new Set(["balance", "lifetime_value", "credit_limit"]);

function formatValue(key, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.join(", ");
  if (MONEY.has(key) && typeof value === "number") return value.toLocaleString(undefined, { style: "currency", currency: "USD" });
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

function label(key) { return key.replaceAll("_", " "); }

function showCard(card) {
  const box = document.getElementById("card");
  box.replaceChildren();
  box.hidden = false;
  box.append(Hub.el("h2", { id: "card-name" }, card.full_name || card.customer_id));
  const facts = Hub.el("div", { class: "facts", id: "card-facts" });
  for (const [key, value] of Object.entries(card)) {
    if (IDENTITY.includes(key)) continue;
    facts.append(Hub.el("div", { class: "fact", "data-fact": key },
      Hub.el("div", { class: "label" }, label(key)), Hub.el("div", { class: "value" }, formatValue(key, value))));
  }
  box.append(facts);
  const details = Hub.el("dl", { id: "card-details" });
  for (const key of IDENTITY) {
    if (!(key in card)) continue;
    details.append(Hub.el("dt", {}, label(key)), Hub.el("dd", { "data-field": key }, formatValue(key, card[key])));
  }
  box.append(details);
}

async function search(event) {
  event.preventDefault();
  const kind = document.getElementById("search-kind").value;
  const value = document.getElementById("search-value").value;
  const list = document.getElementById("matches");
  list.replaceChildren();
  document.getElementById("card").hidden = true;
  Hub.status("Searching…");
  try {
    const params = new URLSearchParams({ [kind]: value });
    const result = await Hub.call("GET", `/lookup?${params}`);
    Hub.status(result.count ? `${result.count} match${result.count > 1 ? "es" : ""}` : "No customer found");
    result.matches.forEach((match, index) => {
      const item = Hub.el("li", { "data-customer": match.customer_id },
        Hub.el("strong", {}, match.card.full_name || match.customer_id), Hub.el("br"),
        `${match.card.city || ""} · score ${match.score}`);
      item.addEventListener("click", () => select(item, match.card));
      list.append(item);
      if (index === 0) select(item, match.card);
    });
  } catch (error) {
    Hub.status(error.message, true);
  }
}

function select(item, card) {
  document.querySelectorAll("#matches li").forEach((li) => li.classList.remove("selected"));
  item.classList.add("selected");
  showCard(card);
}

Hub.wireKeyForm();
document.getElementById("search-form").addEventListener("submit", search);
