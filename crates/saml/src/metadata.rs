//! The SP metadata an administrator gives the IdP (SAML 2.0 metadata section 2.4.4).

use crate::c14n::{escape_attribute, escape_text};
use crate::names::{HTTP_POST, METADATA, NAME_ID_EMAIL, NAME_ID_PERSISTENT, NAME_ID_UNSPECIFIED, PROTOCOL};
use crate::ServiceProvider;

/// EntityDescriptor/SPSSODescriptor: AuthnRequestsSigned="false" WantAssertionsSigned="true",
/// NameIDFormat emailAddress, persistent, unspecified; one HTTP-POST AssertionConsumerService.
pub fn sp_metadata(sp: &ServiceProvider) -> String {
    let mut entity_id = String::new();
    escape_attribute(&sp.entity_id, &mut entity_id);
    let mut acs = String::new();
    escape_attribute(&sp.acs_url, &mut acs);
    let formats: String = [NAME_ID_EMAIL, NAME_ID_PERSISTENT, NAME_ID_UNSPECIFIED]
        .iter()
        .map(|format| {
            let mut escaped = String::new();
            escape_text(format, &mut escaped);
            format!("    <md:NameIDFormat>{escaped}</md:NameIDFormat>\n")
        })
        .collect();
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
            "<md:EntityDescriptor xmlns:md=\"{md}\" entityID=\"{entity_id}\">\n",
            "  <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" ",
            "protocolSupportEnumeration=\"{protocol}\">\n",
            "{formats}",
            "    <md:AssertionConsumerService Binding=\"{binding}\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\n",
            "  </md:SPSSODescriptor>\n",
            "</md:EntityDescriptor>\n"
        ),
        md = METADATA,
        entity_id = entity_id,
        protocol = PROTOCOL,
        formats = formats,
        binding = HTTP_POST,
        acs = acs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{child, children};

    #[test]
    fn metadata_describes_the_service_provider() {
        let sp = ServiceProvider {
            entity_id: "https://patchbay.example/saml?t=\"a\"&b".into(),
            acs_url: "https://patchbay.example/saml/acs?t=a&x=<y>".into(),
        };
        let xml = sp_metadata(&sp);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let entity = doc.root_element();
        assert!(entity.has_tag_name((METADATA, "EntityDescriptor")));
        assert_eq!(entity.attribute("entityID"), Some(sp.entity_id.as_str()));
        let descriptor = child(entity, METADATA, "SPSSODescriptor").expect("SPSSODescriptor");
        assert_eq!(descriptor.attribute("AuthnRequestsSigned"), Some("false"));
        assert_eq!(descriptor.attribute("WantAssertionsSigned"), Some("true"));
        assert_eq!(descriptor.attribute("protocolSupportEnumeration"), Some(PROTOCOL));
        let formats: Vec<_> = children(descriptor, METADATA, "NameIDFormat").filter_map(|f| f.text()).collect();
        assert_eq!(formats, [NAME_ID_EMAIL, NAME_ID_PERSISTENT, NAME_ID_UNSPECIFIED]);
        let services: Vec<_> = children(descriptor, METADATA, "AssertionConsumerService").collect();
        assert_eq!(services.len(), 1);
        assert_eq!(services[0].attribute("Binding"), Some(HTTP_POST));
        assert_eq!(services[0].attribute("Location"), Some(sp.acs_url.as_str()));
    }
}
